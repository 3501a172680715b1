"""Text from files (sample names, operators, notes, protocol names) is data, never markup: escaped in the
HTML report and literal in figures (no mathtext), so a ``<script>`` or a ``$`` shows as typed."""

from __future__ import annotations

import dataclasses
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from memlab.report import report_html  # noqa: E402
from memlab.safe_text import figure_text, html_text  # noqa: E402

from .cases import PAPER  # noqa: E402

HOSTILE = {
    "sample_id": "<script>alert('sample')</script>",
    "device_id": '"><img src=x onerror=alert(1)>',
    "operator": "O'Brien & <b>Co</b>",
    "notes": "</td></tr></table><script>document.write(1)</script>",
}
MATH = r"dev $\frac{1}{$ <script>x</script> & \$"


def _page(tmp_path, protocol_name: str) -> str:
    files = {k: tmp_path / f"{k}.x" for k in ("run", "device", "results")}
    for p in files.values():
        p.write_text("")
    return report_html(root=tmp_path, title="t", steps="s", files=files,
                       protocol={"name": protocol_name, "description": "<script>desc()</script>"},
                       table="<script>table()</script>", results={}, accuracy_rows=[("<i>q</i>", "1", "2")],
                       device_drift=None, figure_folders=[], task="digits", run_attrs=HOSTILE)


def test_the_report_shows_text_from_files_as_text(tmp_path):
    page = _page(tmp_path, "<script>alert('protocol')</script>")
    assert not re.search(r"<\s*script", page, re.IGNORECASE), "a <script> from a file reached the page as markup"
    assert "<img" not in page and "<b>Co" not in page
    for value in [*HOSTILE.values(), "<script>alert('protocol')</script>", "<script>desc()</script>"]:
        assert html_text(value) in page, f"{value!r} is not shown (escaped) on the page"


@pytest.mark.parametrize("text", [MATH, "<script>alert(1)</script>", "a\\$b", "$$", "\x00\x1b[31m red"])
def test_figure_text_is_literal_never_mathtext(text):
    fig, ax = plt.subplots()
    try:
        title = ax.set_title(figure_text(text))
        fig.canvas.draw()  # the raw text with an odd '$' would raise in the mathtext parser
        shown, math = title._preprocess_math(title.get_text())
        assert math is False
        assert shown == "".join(c if c.isprintable() else " " for c in text)
    finally:
        plt.close(fig)


def test_a_hostile_protocol_name_draws_as_typed_in_the_dry_run_figure(tmp_path):
    from memlab.protocols.dryrun import draw_first_cycle
    from memlab.protocols.loader import load_protocol

    protocol = dataclasses.replace(load_protocol(PAPER), name=MATH)
    png = draw_first_cycle(protocol, tmp_path / "first.png")
    assert png.exists() and png.stat().st_size > 1000
