"""memlab as a user gets it: ``pip install .`` (not editable) into a fresh venv, then the demo elsewhere.

The fresh venv sees this environment's other packages through a ``.pth`` file
(no download: ``--no-index``, ``--no-deps``, ``--no-build-isolation``), and
memlab itself only as the installed copy, so sample data and the pyvisa-sim
file must come from the package (importlib.resources), not from a checkout.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import site
import subprocess
import sys
import venv

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

def _site_dirs() -> list[str]:
    """Every site-packages directory this interpreter imports from (the venv's and those its .pth add)."""
    dirs = [p for p in sys.path if p.rstrip("/").endswith("site-packages") and pathlib.Path(p).is_dir()]
    return list(dict.fromkeys(dirs + site.getsitepackages()))

@pytest.mark.slow
def test_pip_installed_memlab_runs_the_demo_from_an_unrelated_directory(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (pathlib.Path(purelib) / "zz_outer_packages.pth").write_text("\n".join(_site_dirs()) + "\n")
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMLAB_DATA")}
    environ["PIP_NO_INDEX"] = "1"
    # from a copy: an in-tree build would leave build/ in the checkout (and could ship stale files from it)
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".gpu-data", ".whl",
        "results", "tests", "benchmarks", "demo-output"))
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    str(source)], check=True, env=environ, cwd=tmp_path, timeout=600)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([python, "-c", "import memlab, memlab.instruments.b1500 as b; "
                            "from memlab.files import sample_data; "
                            "print(memlab.__file__); print(b.SIM_YAML); print(sample_data('protocols', 'paper-tailored.toml'))"],
                           capture_output=True, text=True, env=environ, cwd=elsewhere, check=True).stdout.split()
    for path in where:  # the installed copy, not the checkout or its copy
        assert pathlib.Path(path).is_file() and pathlib.Path(path).resolve().is_relative_to(env_dir), where

    memlab_exe = env_dir / "bin" / "memlab"
    done = subprocess.run([memlab_exe, "demo", "--quick", "--out", "demo"], capture_output=True, text=True,
                          env=environ, cwd=elsewhere, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = elsewhere / "demo"
    for name in ("run.h5", "device.json", "index.html"):
        assert (out / name).is_file(), sorted(p.name for p in out.iterdir())
    assert str(REPO) not in (out / "index.html").read_text()  # no path into the checkout

def test_sample_data_is_found_through_the_package_and_names_what_is_missing():
    from memlab.errors import DataNotFoundError
    from memlab.files import sample_data

    assert sample_data("protocols", "paper-tailored.toml").read_text().strip()
    with pytest.raises(DataNotFoundError, match="protocols/none.toml"):
        sample_data("protocols", "none.toml")

def test_demo_does_not_find_files_through_the_checkout():
    text = (REPO / "memlab" / "demo.py").read_text()
    assert "parents[" not in text and "__file__" not in text
