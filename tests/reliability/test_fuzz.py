"""Property-based fuzzing (hypothesis) of the parsers that read what memlab did not write.

The property everywhere: a hostile input is either accepted as something
valid or refused with a :class:`MemlabError`; never another exception.
``max_examples`` stays modest so the suite stays fast; the seed is fixed by
hypothesis' database-free derandomised mode, so a failure reproduces.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.analysis.device_file import from_dict, load_device_file
from memlab.analysis.importers import ImportSpec, read_pulse_files
from memlab.errors import InstrumentError, MemlabError
from memlab.instruments.b1500.flex import FlexPoint, format_fmt1, format_fmt21, parse_fmt1, parse_fmt21
from memlab.status import PointStatus
from memlab.protocols.loader import load_protocol, protocol_from_dict
from memlab.protocols.protocol import MAX_PULSE_V, IVSweepProtocol

from .cases import PAPER, ROOT, memory_cap

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Values a hostile file may hold where a number, string or table belongs.
WILD = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(tree, prefix=()):
    """Every key path into nested dicts and lists."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, tree):
    """``tree`` with 1-3 values replaced by wild ones or deleted."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(WILD)
    return tree


# --------------------------------------------------------------------------- FMT data replies

CHANNEL = st.sampled_from(list("ABCDEFGHIJZK"))  # channel letters, one invalid
KIND = st.sampled_from(list("VITZFQ"))
VALUE = st.from_regex(r"[+-]?\d{0,4}(\.\d{0,4})?(E[+-]?\d{0,4})?", fullmatch=True)
TOKEN_PARTS = st.tuples(st.sampled_from(list("NTCVXFGSWEQ0")), CHANNEL, KIND, VALUE)  # some statuses invalid


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(TOKEN_PARTS, min_size=1, max_size=8).map(
    lambda parts: ",".join("".join(p) for p in parts))))
def test_fmt1_parser_accepts_or_refuses_cleanly(reply):
    try:
        points = parse_fmt1(reply)
    except InstrumentError:
        return
    for p in points:
        assert isinstance(p, FlexPoint) and 0 <= p.channel <= 10
        assert math.isnan(p.value) or abs(p.value) < 199.999e99
        assert math.isnan(p.value) == bool(p.status & PointStatus.OVERFLOW)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(
    st.tuples(st.from_regex(r"\d{2,4}", fullmatch=True), CHANNEL, KIND, VALUE), min_size=1, max_size=8).map(
    lambda parts: ",".join("".join(p) for p in parts))))
def test_fmt21_parser_accepts_or_refuses_cleanly(reply):
    try:
        points = parse_fmt21(reply)
    except InstrumentError:
        return
    assert all(0 <= p.channel <= 10 and (math.isnan(p.value) or abs(p.value) < 199.999e99) for p in points)


@FUZZ
@given(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), st.integers(0, 10),
       st.sampled_from([PointStatus.OK, PointStatus.COMPLIANCE, PointStatus.OVERFLOW]))
def test_fmt_round_trip(value, channel, status):
    point = FlexPoint(value, status, channel, "I", "")
    for fmt, parse in ((format_fmt1, parse_fmt1), (format_fmt21, parse_fmt21)):
        (back,) = parse(fmt(point))
        assert back.channel == channel
        if status & PointStatus.OVERFLOW:
            continue  # an overflowed point carries the instrument's dummy value, not ours
        assert back.value == pytest.approx(value, rel=1e-3, abs=1e-3)


# --------------------------------------------------------------------------- protocol loader

SAMPLES = sorted((ROOT / "sample_data" / "protocols").glob("*.toml"))
PROTOCOL_TREES = [tomllib.loads(p.read_text()) for p in SAMPLES]


@FUZZ
@given(st.sampled_from(PROTOCOL_TREES).flatmap(mutated))
def test_protocol_loader_accepts_only_protocols_inside_the_limits(tree):
    try:
        with memory_cap():  # a hostile count must be refused, not allocated
            protocol = protocol_from_dict(tree)
    except MemlabError:
        return
    # Accepted: every voltage it will program lies inside the validated limits.
    if isinstance(protocol, IVSweepProtocol):
        assert all(abs(v) <= IVSweepProtocol.MAX_V for v in protocol.stops_V)
        return
    trains = (protocol.potentiation, protocol.depression) if hasattr(protocol, "potentiation") \
        else (protocol.program, protocol.reset)
    for train in trains:
        assert all(isinstance(a, (int, float)) and 0 < a <= MAX_PULSE_V for a in train.amplitude_V)
    assert 0 < abs(protocol.read.amplitude_V) <= MAX_PULSE_V
    assert isinstance(protocol.name, str)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_protocol_file_of_garbage_is_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("toml") / "p.toml"
    path.write_bytes(data)
    with pytest.raises(MemlabError):
        load_protocol(path)


# --------------------------------------------------------------------------- importers

CELL = st.one_of(
    st.floats(min_value=1e-9, max_value=1e-2).map(repr), st.just(""), st.just("nan"), st.just("-1e-3"),
    st.just("1e999"), st.text(alphabet="abc ,\"\n\x00é", max_size=4), st.integers(-5, 5).map(str),
)
CSV_TEXT = st.lists(st.lists(CELL, min_size=1, max_size=6), min_size=0, max_size=6).map(
    lambda rows: "\n".join(",".join(r) for r in rows) + "\n")


def _check_pulses(pulses) -> None:
    g = pulses.read_conductance_S
    assert g.shape == pulses.read_status.shape == (pulses.n_cycles, pulses.n_up + pulses.n_down)
    missing = pulses.read_status == PointStatus.MISSING
    assert np.array_equal(missing, np.isnan(g)), "a NaN must be flagged MISSING and only a NaN"
    assert np.all(g[~missing] >= 0) and np.all(np.isfinite(g[~missing]))


@FUZZ
@given(CSV_TEXT, CSV_TEXT, st.sampled_from(["columns", "rows"]))
def test_csv_importer_accepts_or_refuses_cleanly(tmp_path_factory, up, down, layout):
    folder = tmp_path_factory.mktemp("csv")
    (folder / "up.csv").write_text(up, encoding="utf-8")
    (folder / "down.csv").write_text(down, encoding="utf-8")
    try:
        with memory_cap():
            pulses, _ = read_pulse_files(ImportSpec(layout, "conductance"), up=folder / "up.csv",
                                         down=folder / "down.csv")
    except MemlabError as exc:
        assert "up.csv" in str(exc) or "down.csv" in str(exc), str(exc)
        return
    _check_pulses(pulses)


LONG_ROW = st.tuples(st.integers(-3, 10**13).map(str) | CELL, st.integers(-3, 10**13).map(str) | CELL, CELL,
                     st.sampled_from(["up", "down", "potentiation", "x", ""]))


@FUZZ
@given(st.lists(LONG_ROW, max_size=8))
def test_long_csv_importer_accepts_or_refuses_cleanly(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("long") / "long.csv"
    path.write_text("cycle,pulse,value,branch\n" + "\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    try:
        with memory_cap():
            pulses, _ = read_pulse_files(ImportSpec("long", "conductance"), file=path)
    except MemlabError as exc:
        assert "long.csv" in str(exc), str(exc)
        return
    _check_pulses(pulses)


# --------------------------------------------------------------------------- device files

DEVICE = json.loads((ROOT / "sample_data" / "devices" / "virtual-hfs2.json").read_text())


@FUZZ
@given(mutated(DEVICE))
def test_device_file_loader_accepts_or_refuses_cleanly(tmp_path_factory, tree):
    try:
        device = from_dict(tree, source="fuzz.json")
    except MemlabError as exc:
        assert "fuzz.json" in str(exc)
        return
    assert 0 <= device.g_min_S <= device.g_max_S and math.isfinite(device.g_max_S)


@FUZZ
@given(mutated(DEVICE).map(lambda t: json.dumps(t, allow_nan=True)) | st.text(max_size=200))
def test_device_file_text_accepts_or_refuses_cleanly(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("dev") / "d.json"
    path.write_text(text, encoding="utf-8")
    try:
        load_device_file(path)
    except MemlabError as exc:
        assert str(path) in str(exc)


def test_the_fuzzers_start_from_valid_inputs():
    """The mutation seeds must themselves load, or the fuzzers would only test refusals."""
    for path in SAMPLES:
        load_protocol(path)
    from_dict(DEVICE)
    assert PAPER in SAMPLES
