"""Text that came from files (sample names, operators, notes, protocol names) shown to people.

Such text is data, never markup: :func:`html_text` escapes it for HTML (a
``<script>`` in a sample name is shown as text), :func:`figure_text` for
matplotlib (no mathtext: a ``$`` is a dollar sign, not the start of a formula
whose parser a hostile name could break; control characters become spaces;
overlong text is cut so a label cannot cover the figure).
"""

from __future__ import annotations

import html
from typing import Any

FIGURE_TEXT_MAX = 120


def html_text(value: Any) -> str:
    """``value`` as HTML text: ``&``, ``<``, ``>`` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def figure_text(value: Any, max_chars: int = FIGURE_TEXT_MAX) -> str:
    """``value`` as literal matplotlib text (titles, labels, legends)."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text.replace("$", r"\$")
