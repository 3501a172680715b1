"""tests.helpers.shared_data: data CI always has fails under CI when missing, and is skipped elsewhere."""

from __future__ import annotations

import pytest

from tests.helpers import shared_data as sd


def test_present_data_is_returned(monkeypatch):
    monkeypatch.setattr(sd, "SHARED_DATA", sd.ROOT)
    assert sd.shared_data("pyproject.toml") == sd.ROOT / "pyproject.toml"


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_missing_data_fails_under_ci(monkeypatch, tmp_path, value):
    monkeypatch.setattr(sd, "SHARED_DATA", tmp_path)
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI always has this data"):
        sd.shared_data("mnist")


@pytest.mark.parametrize("value", [None, "", "0", "false"])
def test_missing_data_is_skipped_with_the_place_elsewhere(monkeypatch, tmp_path, value):
    monkeypatch.setattr(sd, "SHARED_DATA", tmp_path)
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=f"{tmp_path / 'mnist'} not found.*with CI set this is a failure"):
        sd.shared_data("mnist")


def test_the_decorator_checks_before_the_test_and_passes_fixtures(monkeypatch, tmp_path):
    monkeypatch.setattr(sd, "SHARED_DATA", tmp_path)
    monkeypatch.setenv("CI", "true")
    ran = []

    @sd.needs_shared_data("external")
    def body(tmp_path):
        ran.append(tmp_path)

    with pytest.raises(pytest.fail.Exception):
        body(tmp_path)
    assert ran == []
    (tmp_path / "external").mkdir()
    body(tmp_path=tmp_path)
    assert ran == [tmp_path]
