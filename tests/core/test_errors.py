"""Every memlab error is also the matching built-in, so plain Python callers catch it."""

import pytest

from memlab import errors


@pytest.mark.parametrize("cls, builtin", [
    (errors.ConfigError, ValueError), (errors.LimitError, ValueError), (errors.SchemaError, ValueError),
    (errors.ImportDataError, ValueError), (errors.DataNotFoundError, FileNotFoundError),
    (errors.InstrumentError, OSError), (errors.InstrumentTimeoutError, TimeoutError),
    (errors.ArchiveLockedError, OSError), (errors.SpiceError, RuntimeError),
])
def test_hierarchy(cls, builtin):
    assert issubclass(cls, errors.MemlabError) and issubclass(cls, builtin)


def test_instrument_error_keeps_code_and_text():
    exc = errors.InstrumentError("WGFMU_execute: parameter out of range", code=-1)
    assert exc.code == -1 and str(exc) == "WGFMU_execute: parameter out of range (code -1)"
