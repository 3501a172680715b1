"""The scripted VISA resource fails on every way a driver can stray from its script."""

import pytest

from tests.helpers.visa_script import ScriptedResource


def test_a_faithful_exchange_passes():
    r = ScriptedResource([("*IDN?", "K,B1500A,1,A"), ("DZ", None), ("XE", "0")])
    assert r.query("*IDN?") == "K,B1500A,1,A"
    r.write("DZ")
    r.write("XE")
    assert r.read() == "0"
    r.assert_done()


@pytest.mark.parametrize("stray, message", [
    (lambda r: r.write("CL"), "expected 'DZ', got 'CL'"),
    (lambda r: (r.write("DZ"), r.write("XE"), r.write("XE")), "script exhausted"),
    (lambda r: r.read(), "no reply pending"),
    (lambda r: r.assert_done(), "never sent"),
])
def test_a_stray_driver_fails(stray, message):
    with pytest.raises(AssertionError, match=message):
        stray(ScriptedResource([("DZ", None), ("XE", None)]))
