"""Integrity cases shared by the reliability tests and ``benchmarks/reliability_report.py``.

Bit flips inside the stored data of every dataset (each must be *detected*:
``memlab verify`` names the dataset, the reader refuses it, nothing is computed
from it) and archives whose datasets point outside the file (links, virtual
datasets, external storage: refused, the other file never read).
"""

from __future__ import annotations

import pathlib
import shutil

import h5py
import numpy as np

from .cases import ROOT, Outcome, cli, measure_args, protocol_file

SAMPLE = ROOT / "sample_data" / "runs" / "paper-tailored-sim.h5"


def _datasets(path: pathlib.Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(obj.name) if isinstance(obj, h5py.Dataset) else None)
    return names


def flip_data_bits(path: pathlib.Path, dataset: str, rng: np.random.Generator) -> int:
    """Flip 1-8 random bits inside one random chunk's stored data (checksum bytes excluded); returns the chunk."""
    with h5py.File(path, "r") as f:
        ds = f[dataset]
        chunk = int(rng.integers(ds.id.get_num_chunks()))
        info = ds.id.get_chunk_info(chunk)
    data = bytearray(path.read_bytes())
    for pos in rng.integers(0, info.size - 4, size=int(rng.integers(1, 9))):
        data[info.byte_offset + int(pos)] ^= 1 << int(rng.integers(0, 8))
    path.write_bytes(bytes(data))
    return chunk


def base_archives(folder: pathlib.Path) -> list[pathlib.Path]:
    """The committed 100-cycle sample and a fresh 3-cycle run with waveforms (both schema 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    fresh = folder / "fresh.h5"
    if not fresh.exists():
        rc, _, err = cli(*measure_args(protocol_file(folder, 3), fresh))
        assert rc == 0, err
    return [SAMPLE, fresh]


def data_flip_outcomes(folder: pathlib.Path, reps: int = 3) -> list[Outcome]:
    """``reps`` flips per dataset of each base archive: verify must name the dataset (exit 2) and
    ``analyze`` must refuse it by name, leaving no device file."""
    from memlab.errors import DamagedDataError
    from memlab.protocols.archive import read_run

    outcomes = []
    for base in base_archives(folder / "base"):
        for name in _datasets(base):
            for rep in range(reps):
                o = Outcome(f"flip {base.name}:{name} #{rep}")
                o.detected = False
                path = folder / f"flip-{base.stem}-{name.strip('/').replace('/', '-')}-{rep}.h5"
                shutil.copy(base, path)
                rng = np.random.default_rng([rep, *name.encode()])
                flip_data_bits(path, name, rng)
                rc, out, err = cli("verify", str(path))
                o.detected = rc == 2 and f"{name}: checksum mismatch" in out
                o.check(o.detected, f"verify exit {rc}, did not name {name}: {out.strip()[-200:]!r}")
                o.check(len(err.strip().splitlines()) == 1 and "Traceback" not in err, f"stderr {err[:200]!r}")
                try:
                    run = read_run(path)
                    run.pulses  # noqa: B018 - the waveforms too
                    o.fail("the reader returned damaged data")
                except DamagedDataError as exc:
                    o.check(name in str(exc), f"reader did not name {name}: {exc}")
                except Exception as exc:  # noqa: BLE001 - anything else is the defect under test
                    o.fail(f"reader raised {type(exc).__name__}: {exc}")
                device = folder / f"{path.stem}.json"
                if name.startswith("/pulses") and "/waveform/" not in name:
                    rc, _, err = cli("analyze", str(path), "--out", str(device), "--bootstrap", "0")
                    o.check(rc == 2 and name in err and not device.exists(),
                            f"analyze exit {rc}, device file {device.exists()}: {err.strip()[:200]!r}")
                outcomes.append(o)
    return outcomes


def outside_file_outcomes(folder: pathlib.Path) -> list[Outcome]:
    """Datasets that point outside the archive: refused by the reader, verify and info; never read."""
    from memlab.errors import SchemaError
    from memlab.protocols.archive import read_run

    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "secret.h5"
    with h5py.File(secret, "w") as f:
        f.create_dataset("data", data=np.ones((100, 40)))
    raw = folder / "secret.bin"
    np.ones((100, 40)).tofile(raw)
    target = "pulses/read_current_A"

    def swap(f, make) -> None:
        del f[target]
        make(f)

    makers = {
        "external link": lambda f: f.__setitem__(target, h5py.ExternalLink(str(secret), "/data")),
        "soft link": lambda f: f.__setitem__(target, h5py.SoftLink("/pulses/read_voltage_V")),
        "virtual dataset": lambda f: f["pulses"].create_virtual_dataset(
            "read_current_A", _layout(secret), fillvalue=0),
        "external storage": lambda f: f["pulses"].create_dataset(
            "read_current_A", shape=(100, 40), dtype="f8", external=[(str(raw), 0, h5py.h5f.UNLIMITED)]),
        "external link to a group": lambda f: (f.__delitem__("pulses/waveform"),
                                               f.__setitem__("pulses/waveform", h5py.ExternalLink(str(secret), "/"))),
    }
    outcomes = []
    for label, make in makers.items():
        o = Outcome(f"outside the file: {label}")
        path = folder / f"{label.replace(' ', '-')}.h5"
        shutil.copy(SAMPLE, path)
        with h5py.File(path, "r+", locking=False) as f:
            if "group" in label:
                make(f)
            else:
                swap(f, make)
        try:
            read_run(path).pulses  # noqa: B018
            o.fail("the reader followed it")
        except SchemaError as exc:
            o.check("refused" in str(exc) or "no links" in str(exc), f"reader: {exc}")
        for args in (["verify", str(path)], ["info", str(path)]):
            rc, _, err = cli(*args)
            o.check(rc == 2 and path.name in err and len(err.strip().splitlines()) == 1,
                    f"{args[0]} exit {rc}: {err.strip()[:200]!r}")
        o.detected = o.survived
        outcomes.append(o)
    return outcomes


def _layout(secret: pathlib.Path):
    layout = h5py.VirtualLayout(shape=(100, 40), dtype="f8")
    layout[:] = h5py.VirtualSource(str(secret), "data", shape=(100, 40))
    return layout
