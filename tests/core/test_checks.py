"""The one range checker: every refusal names the field, the value and the allowed range."""

import numpy as np
import pytest

from memlab import checks
from memlab.errors import LimitError


def test_in_range_names_field_value_and_range():
    assert checks.in_range("voltage_V", 1.5, -2, 2, "V") == 1.5
    with pytest.raises(LimitError, match=r"^voltage_V=150\.0 V: allowed -100 \.\. 100 V$"):
        checks.in_range("voltage_V", 150.0, -100, 100, "V")
    with pytest.raises(LimitError, match=r"^x=3: allowed 0 \.\. 1$"):
        checks.in_range("x", 3, 0, 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "1.0", None])
def test_non_numbers_are_refused(bad):
    with pytest.raises(LimitError, match=r"must be a finite number of seconds"):
        checks.in_range("t_s", bad, 0, 1, "s")


def test_slack_admits_float_error_only():
    assert checks.in_range("t_s", 1e-6 * (1 + 1e-12), 1e-8, 1e-6, "s", slack=1e-9)
    with pytest.raises(LimitError):
        checks.in_range("t_s", 1.001e-6, 1e-8, 1e-6, "s", slack=1e-9)


def test_whole_numbers():
    assert checks.whole("cycles", np.int64(3), 1, 5) == 3
    for bad in (0, 6, 2.0, True):
        with pytest.raises(LimitError, match=r"cycles=.*: allowed whole numbers 1 \.\. 5"):
            checks.whole("cycles", bad, 1, 5)
