"""Errors in the words the user typed: internal field names become the CLI flags behind them."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator, Mapping

from memlab.errors import ConfigError


def name_flags(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with each field of ``flags`` written as its flag (``n_boot = -1`` -> ``--bootstrap -1``)."""
    for field, flag in flags.items():
        # a flag ending in '=' takes its value attached (--window up=5:2)
        message = re.sub(rf"(?<![\w.-]){re.escape(field)}\s*=\s*", flag if flag.endswith("=") else f"{flag} ",
                         message)
        message = re.sub(rf"(?<![\w.-]){re.escape(field)}(?![\w])", flag, message)
    return message


@contextlib.contextmanager
def flag_errors(flags: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a ConfigError from the block with its field names replaced by ``flags``."""
    try:
        yield
    except ConfigError as exc:
        text = name_flags(str(exc), flags)
        if text == str(exc):
            raise
        raise type(exc)(text) from exc
