"""`memlab measure --backend wgfmu` without Keysight's library fails cleanly, before any archive exists."""

from pathlib import Path

from memlab.cli import main

PROTOCOL = Path(__file__).parents[2] / "sample_data" / "protocols" / "paper-tailored.toml"


def test_missing_wgfmu_library_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run.h5"
    code = main(["measure", "--protocol", str(PROTOCOL), "--backend", "wgfmu",
                 "--wgfmu-library", str(tmp_path / "wgfmu.dll"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "wgfmu.dll" in err and str(tmp_path / "wgfmu.dll") in err
    assert not out.exists()
