"""Properties of the three readers of foreign files, through the CLI a user runs.

For the protocol loader (``memlab measure --dry-run``), the device-file
validator (``memlab export --to aihwkit``) and the importers (``memlab
import``): any input either loads into a valid object (exit 0, the output at
``--out`` complete and readable) or is refused with exit 2 and one line that
names the file and the key or position at fault; never a traceback, never
another exit status, never a file (or ``.partial`` leftover) at ``--out``.

Hypothesis runs derandomized (a fixed seed, no example database) with modest
example counts: the CI has two cores.
"""

from __future__ import annotations

import json
import math
import re
import tomllib

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .cases import PAPER, ROOT, cli, memory_cap
from .test_fuzz import CELL, DEVICE, WILD, mutated

CLI_FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
POSITION = re.compile(r"\b(line|row|column|byte|position|cycle|pulse|sheet)s? \d+|\bempty\b|end of (document|file)",
                      re.IGNORECASE)


def _leftovers(folder, out) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(out.name))


def _refused_cleanly(rc: int, err: str, file_name: str, keys: set[str]) -> str | None:
    """None when ``rc``/``err`` is an acceptable refusal, else what is wrong with it."""
    lines = err.strip().splitlines()
    if rc != 2:
        return f"exit {rc}: {err.strip()[-300:]!r}"
    if len(lines) != 1 or "Traceback" in err:
        return f"not one line: {err.strip()[:300]!r}"
    if file_name not in lines[0]:
        return f"does not name {file_name}: {lines[0]!r}"
    if not POSITION.search(lines[0]) and not any(k in lines[0] for k in keys):
        return f"names neither a key ({sorted(keys)[:8]}...) nor a position: {lines[0]!r}"
    return None


def _all_keys(tree, keys=None) -> set[str]:
    keys = set() if keys is None else keys
    if isinstance(tree, dict):
        for k, v in tree.items():
            keys.add(str(k))
            _all_keys(v, keys)
    elif isinstance(tree, list):
        for v in tree:
            _all_keys(v, keys)
    return keys


# --------------------------------------------------------------------------- protocol files (TOML)

def _toml_value(v) -> str | None:
    if v is None:
        return None  # TOML has no null: the key is left out
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are TOML's
    if isinstance(v, list):
        return "[" + ", ".join(x for x in map(_toml_value, v) if x is not None) + "]"
    items = ((json.dumps(str(k)), _toml_value(x)) for k, x in v.items())
    return "{" + ", ".join(f"{k} = {x}" for k, x in items if x is not None) + "}"


def to_toml(tree: dict) -> str:
    """A small TOML writer (inline tables) for the mutated trees; tomllib reads back what it writes."""
    return "".join(f"{json.dumps(str(k))} = {x}\n" for k, x in ((k, _toml_value(v)) for k, v in tree.items())
                   if x is not None)


PROTOCOL_TREES = [tomllib.loads(p.read_text()) for p in sorted((ROOT / "sample_data" / "protocols").glob("*.toml"))]
PROTOCOL_KEYS = set().union(*map(_all_keys, PROTOCOL_TREES))


def test_the_toml_writer_round_trips_the_sample_protocols():
    for tree in PROTOCOL_TREES:
        assert tomllib.loads(to_toml(tree)) == tree


@CLI_FUZZ
@given(st.sampled_from(PROTOCOL_TREES) | st.sampled_from(PROTOCOL_TREES).flatmap(mutated))
def test_measure_dry_run_loads_or_refuses_a_mutated_protocol_by_key(tmp_path_factory, tree):
    folder = tmp_path_factory.mktemp("proto")
    path, out = folder / "p.toml", folder / "run.h5"
    path.write_text(to_toml(tree), encoding="utf-8")
    with memory_cap():
        rc, _, err = cli("measure", "--dry-run", "--protocol", str(path), "--out", str(out),
                         "--waveform-png", str(folder / "first.png"))
    assert not _leftovers(folder, out), "a dry run left a file at --out"
    if rc == 0:
        event("accepted")
        return  # loaded into a valid protocol (the loader's own properties check its limits)
    event("refused" if rc == 2 else f"exit {rc}")
    problem = _refused_cleanly(rc, err, "p.toml", _all_keys(tree) | PROTOCOL_KEYS)
    assert problem is None, problem


@CLI_FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_measure_refuses_a_protocol_of_garbage_by_position(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("garbage")
    path, out = folder / "p.toml", folder / "run.h5"
    path.write_bytes(data)
    rc, _, err = cli("measure", "--backend", "sim", "--protocol", str(path), "--out", str(out), "--quiet")
    assert not _leftovers(folder, out), "a refused protocol left a file at --out"
    event("refused" if rc == 2 else f"exit {rc}")
    problem = _refused_cleanly(rc, err, "p.toml", {"kind", "name"})
    assert problem is None, problem


# --------------------------------------------------------------------------- device files (JSON)

@CLI_FUZZ
@given((st.just(DEVICE) | mutated(DEVICE)).map(lambda t: json.dumps(t, allow_nan=True)) | st.text(max_size=120))
def test_export_loads_or_refuses_a_device_file_by_key(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("dev")
    path, out = folder / "d.json", folder / "cfg.json"
    path.write_text(text, encoding="utf-8")
    rc, _, err = cli("export", str(path), "--to", "aihwkit", "--out", str(out))
    if rc == 0:
        event("accepted")
        assert _leftovers(folder, out) == ["cfg.json"]
        json.loads(out.read_text())  # complete, valid JSON
        return
    assert not _leftovers(folder, out), f"a refused device file left {_leftovers(folder, out)}"
    try:
        keys = _all_keys(json.loads(text))
    except ValueError:
        keys = set()
    event("refused" if rc == 2 else f"exit {rc}")
    problem = _refused_cleanly(rc, err, "d.json", keys | _all_keys(DEVICE))
    assert problem is None, problem


# --------------------------------------------------------------------------- importers (CSV)

GOOD_CSV = st.lists(st.lists(st.floats(1e-6, 1e-2).map(repr), min_size=2, max_size=4), min_size=1, max_size=3).map(
    lambda rows: "\n".join(",".join(r) for r in rows) + "\n")
CSV = GOOD_CSV | st.lists(st.lists(CELL | st.sampled_from(["1e-3", "2e-4"]), min_size=1, max_size=5),
               min_size=0, max_size=5).map(lambda rows: "\n".join(",".join(r) for r in rows) + "\n")
GOOD_LONG = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 4), st.floats(1e-6, 1e-2), st.sampled_from(
    ["up", "down"])), min_size=1, max_size=8).map(
    lambda rows: "cycle,pulse,value,branch\n" + "\n".join(f"{c},{p},{v!r},{b}" for c, p, v, b in rows) + "\n")
LONG = GOOD_LONG | st.lists(st.tuples(st.integers(-2, 6).map(str) | CELL, st.integers(-2, 6).map(str) | CELL, CELL,
                          st.sampled_from(["up", "down", "x", ""])), max_size=6).map(
    lambda rows: "cycle,pulse,value,branch\n" + "\n".join(",".join(r) for r in rows) + "\n")


@CLI_FUZZ
@given(st.sampled_from(["columns", "rows", "long"]), CSV, CSV, LONG,
       st.sampled_from(["conductance", "resistance", "current"]))
def test_import_writes_a_valid_archive_or_refuses_by_position(tmp_path_factory, layout, up, down, long, quantity):
    from memlab.protocols.archive import read_run

    folder = tmp_path_factory.mktemp("imp")
    out = folder / "run.h5"
    files = {"up.csv": up, "down.csv": down, "long.csv": long}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    args = ["import", "--layout", layout, "--quantity", quantity, "--out", str(out)]
    args += [str(folder / "long.csv")] if layout == "long" else ["--up", str(folder / "up.csv"),
                                                                  "--down", str(folder / "down.csv")]
    if quantity == "current":
        args += ["--read-voltage", "0.1"]
    with memory_cap():
        rc, _, err = cli(*args)
    if rc == 0:
        event("accepted")
        assert _leftovers(folder, out) == ["run.h5"]
        run = read_run(out)
        assert run.status == "complete" and run.pulses is not None
        return
    assert not _leftovers(folder, out), f"a refused import left {_leftovers(folder, out)}"
    named = "long.csv" if layout == "long" else ("up.csv" if "up.csv" in err else "down.csv")
    event("refused" if rc == 2 else f"exit {rc}")
    problem = _refused_cleanly(rc, err, named, {"cycle", "pulse", "value", "branch"})
    assert problem is None, problem


def test_the_property_tests_fail_on_a_traceback_or_a_partial_file():
    """The judge itself: a two-line message, another exit status or a nameless refusal are caught."""
    assert _refused_cleanly(1, "boom\n", "p.toml", set()) is not None
    assert _refused_cleanly(2, "memlab: error: p.toml: bad\nTraceback\n", "p.toml", set()) is not None
    assert _refused_cleanly(2, "memlab: error: something is wrong\n", "p.toml", {"cycles"}) is not None
    assert _refused_cleanly(2, "memlab: error: p.toml: cycles=-1: must be >= 1\n", "p.toml", {"cycles"}) is None
    assert PAPER.exists()
    assert WILD is not None
