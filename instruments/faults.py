"""Fault injection for the simulated instruments (reliability and safety tests).

``FaultPlan(fail_at={"getMeasureValues": 3}, failure="timeout")`` makes the
third call of ``getMeasureValues`` raise :class:`InstrumentTimeoutError`; a
value may also be ``(n, failure)`` to mix kinds. Only the n-th call fails;
later calls behave normally (a transient fault the caller may retry).
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

from memlab.errors import ConfigError, InstrumentAbortedError, InstrumentError, InstrumentTimeoutError

FAILURES = {
    "io": (InstrumentError, -5, "simulated I/O error"),
    "timeout": (InstrumentTimeoutError, -5, "simulated timeout"),
    "abort": (InstrumentAbortedError, -8, "simulated abort of the running sequence"),
}


class FaultPlan:
    """Counts calls by name and raises the planned failure at the planned call."""

    def __init__(self, fail_at: Mapping[str, int | tuple[int, str]] | None = None, failure: str = "io") -> None:
        self._plan: dict[str, tuple[int, str]] = {}
        for name, spec in (fail_at or {}).items():
            n, kind = spec if isinstance(spec, tuple) else (spec, failure)
            if kind not in FAILURES:
                raise ConfigError(f"failure={kind!r} for {name!r}: allowed {sorted(FAILURES)}")
            if int(n) < 1:
                raise ConfigError(f"fail_at[{name!r}]={n!r}: call numbers start at 1")
            self._plan[name] = (int(n), kind)
        self.calls: Counter[str] = Counter()

    def tick(self, name: str) -> str | None:
        """Count a call of ``name``; return the failure kind if this call must fail, else None."""
        self.calls[name] += 1
        planned = self._plan.get(name)
        if planned is not None and planned[0] == self.calls[name]:
            return planned[1]
        return None

    @staticmethod
    def error(kind: str, call: str) -> InstrumentError:
        """The exception a failure of ``kind`` raises in ``call``."""
        cls, code, text = FAILURES[kind]
        return cls(f"{call} failed: {text} (fault injected)", code=code)
