"""FLEX over a real socket: the simulated B1500A served on 127.0.0.1, reached through pyvisa + pyvisa-py.

``TCPIP::127.0.0.1::PORT::SOCKET`` is the resource string of a LAN-connected
mainframe; everything between ``memlab measure`` and the wire runs as on the
bench: pyvisa's session, pyvisa-py's socket reads with their termination
handling and timeouts, the driver, the I-V runner and the archive. The server
(:mod:`flex_server`) splits, withholds or cuts replies on request.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import pyvisa_py  # noqa: F401  (a dependency in pyproject: the @py VISA library is imported, never skipped)
from flex_server import FlexServer
from memlab.cli import main
from memlab.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeoutError
from memlab.instruments.b1500 import B1500, SimulatedInstrument
from memlab.instruments.virtual_device import VirtualMemristor
from memlab.protocols.archive import read_run

PROTOCOLS = Path(__file__).parents[2] / "sample_data" / "protocols"
DEVICE_SEED, SEED = 2, 5


def _protocol(tmp_path: Path, **fields) -> Path:
    """A small I-V protocol: branches to +-0.6 V in 0.1 V steps (28 points a sweep), 3 sweeps."""
    values = {"kind": '"iv_sweep"', "name": '"socket"', "stops_V": "[0.6, -0.6]", "step_V": "0.1",
              "sweeps": "3", "compliance_A": "1e-3", **{k: str(v) for k, v in fields.items()}}
    path = tmp_path / "iv.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


def _measure(protocol: Path, out: Path, *extra: str) -> int:
    return main(["measure", "--protocol", str(protocol), "--out", str(out), "--quiet", *extra])


def _over_socket(server: FlexServer, protocol: Path, out: Path, timeout_s: float = 2.0) -> int:
    return _measure(protocol, out, "--backend", "b1500", "--address", server.address, "--visa-library", "@py",
                    "--visa-timeout", str(timeout_s))


def _safe(instrument: SimulatedInstrument) -> bool:
    return not instrument.enabled and all(v == 0.0 for v in instrument.output_V.values())


def test_an_iv_sweep_through_the_cli_over_tcp_matches_the_simulated_backend(flex_server, tmp_path):
    """The sample protocol end to end; same virtual device as --backend sim, so the same archive."""
    protocol = PROTOCOLS / "iv-sweep.toml"
    flex_server.instrument = SimulatedInstrument(VirtualMemristor(device_seed=DEVICE_SEED, seed=SEED), seed=SEED)
    assert _over_socket(flex_server, protocol, tmp_path / "tcp.h5") == 0
    assert _measure(protocol, tmp_path / "sim.h5", "--backend", "sim", "--device-seed", str(DEVICE_SEED),
                    "--seed", str(SEED)) == 0

    tcp, sim = read_run(tmp_path / "tcp.h5"), read_run(tmp_path / "sim.h5")
    assert tcp.status == sim.status == "complete"
    assert tcp.attrs["instrument"]["idn"]["model"] == "B1500A"
    assert tcp.attrs["instrument"]["visa_library"] == "@py"
    assert tcp.attrs["instrument"]["address"] == flex_server.address
    for name in ("voltage_V", "current_A", "status"):
        np.testing.assert_array_equal(getattr(tcp.iv, name), getattr(sim.iv, name), err_msg=name)
    assert tcp.iv.current_A.shape == (3, 244) and np.ptp(tcp.iv.current_A) > 1e-4
    # the run went through the wire, and ended with 0 V and the outputs disconnected
    assert flex_server.received.count("XE") == 6 and flex_server.received[-3:] == ["DZ", "CL", "ERRX?"]
    assert _safe(flex_server.instrument)


def test_the_error_queue_comes_over_the_socket_with_its_code(flex_server):
    smu = B1500.open(flex_server.address, backend="@py", timeout_s=2.0)
    try:
        with pytest.raises(InstrumentError, match=r"after 'DV 1,0,0.5,0.001'.*output not enabled.*code 200"):
            smu.force_voltage(1, 0.5, 1e-3)  # CN was never sent
        assert smu.errors() == []  # drained: the next command starts from an empty queue
        smu.enable([1])
        smu.force_voltage(1, 0.5, 1e-3)
        assert abs(smu.measure_current(1).value - 0.5e-3) < 1e-6  # the server's 1 mS resistor
    finally:
        smu.close()
    assert _safe(flex_server.instrument) and flex_server.instrument.output_V[1] == 0.0


def test_a_reply_split_over_packets_is_read_whole(flex_server, tmp_path):
    """Each sweep reply in 3 packets 0.4 s apart (a mainframe streaming a slow sweep's points):
    longer than pyvisa-py's internal wait slice (half the timeout), within the timeout."""
    flex_server.split_replies, flex_server.split_only, flex_server.packet_pause_s = 3, "XE", 0.4
    protocol = _protocol(tmp_path, stops_V="[0.3]", sweeps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyvisa warns when a read does not end with the terminator
        assert _over_socket(flex_server, protocol, tmp_path / "split.h5", timeout_s=1.0) == 0
    run = read_run(tmp_path / "split.h5")
    assert run.status == "complete" and run.iv.current_A.shape == (2, 8)
    np.testing.assert_allclose(run.iv.current_A, run.iv.voltage_V * 1e-3, atol=1e-8)
    assert flex_server.received.count("XE") == 2 and flex_server.packets_sent >= 2 * 3 + 10


def test_a_sweep_may_take_longer_than_the_visa_timeout(flex_server, tmp_path):
    """The XE reply comes after the sweep's hold time: the wait for it adds the sweep's own duration."""
    flex_server.delay = ("XE", 1.2)
    protocol = _protocol(tmp_path, stops_V="[0.3]", sweeps=1, hold_s=1.5)
    assert _over_socket(flex_server, protocol, tmp_path / "long.h5", timeout_s=0.5) == 0
    assert read_run(tmp_path / "long.h5").status == "complete"


def test_a_reply_that_never_comes_is_a_clear_timeout_and_the_outputs_go_to_0_V(flex_server, tmp_path, capsys):
    flex_server.silent = ("XE", 4)  # the second branch of the second sweep
    protocol = _protocol(tmp_path)
    out = tmp_path / "silent.h5"
    assert _over_socket(flex_server, protocol, out, timeout_s=0.5) == 2
    err = capsys.readouterr().err
    assert f"B1500A at {flex_server.address}: no reply to 'XE' within" in err and "--visa-timeout" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # the mainframe was told, after the timeout: 0 V, outputs disconnected
    assert flex_server.received[flex_server.received.index("XE"):][-3:] == ["DZ", "CL", "ERRX?"]
    assert _safe(flex_server.instrument)
    run = read_run(out)
    assert run.status == "failed" and "InstrumentTimeoutError" in run.attrs["status_reason"]
    assert run.iv.current_A.shape[0] == 1  # the complete sweep before it is kept


def test_the_connection_dropped_mid_sweep_leaves_an_interrupted_archive_with_every_sweep_measured(tmp_path,
                                                                                                   capsys):
    protocol = _protocol(tmp_path)
    runs = {}
    for name, drop in (("full", None), ("dropped", ("XE", 5))):  # the 5th sweep branch: mid third sweep
        instrument = SimulatedInstrument(VirtualMemristor(device_seed=DEVICE_SEED, seed=SEED), seed=SEED)
        with FlexServer(instrument) as server:
            server.drop = drop
            runs[name] = (_over_socket(server, protocol, tmp_path / f"{name}.h5", 0.5), read_run(tmp_path / f"{name}.h5"))
            assert server.dropped == (drop is not None)
    (rc_full, full), (rc, dropped) = runs["full"], runs["dropped"]
    assert rc_full == 0 and full.status == "complete"
    assert rc == 2
    err = capsys.readouterr().err
    assert "connection closed by the instrument while waiting for the reply to 'XE'" in err
    assert dropped.status == "interrupted" and "InstrumentConnectionError" in dropped.attrs["status_reason"]
    # nothing lost: the two sweeps completed before the drop, exactly as the uninterrupted run measured them
    assert dropped.iv.current_A.shape == (2, 28)
    for name in ("voltage_V", "current_A", "status"):
        np.testing.assert_array_equal(getattr(dropped.iv, name), getattr(full.iv, name)[:2], err_msg=name)
    # and the run resumes once the link is back, keeping what it had
    with FlexServer() as server:
        assert _over_socket(server, protocol, tmp_path / "dropped.h5", 0.5) != 0  # exists: --resume needed
        rc = _measure(protocol, tmp_path / "dropped.h5", "--resume", "--backend", "b1500", "--address",
                      server.address, "--visa-library", "@py")
    resumed = read_run(tmp_path / "dropped.h5")
    assert rc == 0 and resumed.status == "complete" and resumed.iv.current_A.shape == (3, 28)
    np.testing.assert_array_equal(resumed.iv.current_A[:2], full.iv.current_A[:2])


def test_a_dropped_connection_is_reported_as_lost_not_as_a_timeout(flex_server):
    smu = B1500.open(flex_server.address, backend="@py", timeout_s=0.5)
    flex_server.drop = ("*IDN?", 1)
    with pytest.raises(InstrumentConnectionError, match=r"connection closed by the instrument.*'\*IDN\?'"):
        smu.idn()
    with pytest.raises(InstrumentError):  # DZ and CL cannot reach it; close says so, after trying both
        smu.close()


def test_a_timeout_is_an_instrument_timeout_error_naming_the_query(flex_server):
    smu = B1500.open(flex_server.address, backend="@py", timeout_s=0.3)
    flex_server.silent = ("UNT?", 1)
    with pytest.raises(InstrumentTimeoutError, match=r"no reply to 'UNT\?' within 0.3 s"):
        smu.modules()
    assert smu.idn()["model"] == "B1500A"  # the session goes on after a timeout
    smu.close()
    assert flex_server.received[-3:] == ["DZ", "CL", "ERRX?"]


_TIMEOUT_THEN_DROP = """
from tests.hardware_path.flex_server import FlexServer
from memlab.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeoutError
from memlab.instruments.b1500 import B1500

with FlexServer() as server:
    smu = B1500.open(server.address, backend="@py", timeout_s=0.3)
    server.silent, server.drop = ("UNT?", 1), ("TI", 1)
    try:
        smu.modules()
    except InstrumentTimeoutError:
        print("timeout")
    try:
        smu.measure_current(1)
    except InstrumentConnectionError:
        print("lost")
    try:
        smu.close()
    except InstrumentError:
        print("close tried DZ and CL and reported the failure")
"""


def test_close_after_a_timeout_and_a_lost_connection_returns(tmp_path):
    """A timeout, then the link dies: close() must still get through (it once spun forever in
    pyvisa-py's emulated device clear of a socket, before the 0 V step). In a child process, so a
    hang is a failure, not a stuck test session."""
    import subprocess
    import sys

    from tests.helpers.child import child_env

    try:
        done = subprocess.run([sys.executable, "-c", _TIMEOUT_THEN_DROP], capture_output=True, text=True,
                              timeout=30, env=child_env())
    except subprocess.TimeoutExpired:
        pytest.fail("B1500.close() hung after a timeout followed by a lost connection")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["timeout", "lost", "close tried DZ and CL and reported the failure"]
