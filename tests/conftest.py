"""Project-wide pytest options.

Hardware tests are marked ``@pytest.mark.hardware("wgfmu")`` or
``@pytest.mark.hardware("b1500")`` and skipped unless the matching address is
given: ``pytest --wgfmu-address GPIB0::17::INSTR --b1500-address GPIB0::17::INSTR``
(``--visa-library=@ivi``, ``--wgfmu-library`` choose the libraries; write ``--visa-library=@py`` with
the ``=``: pytest reads a lone ``@py`` argument as a file of arguments). The
``wgfmu_address`` / ``b1500_address`` / ``visa_library`` / ``wgfmu_library`` fixtures return them.
"""

from __future__ import annotations

import pytest

HARDWARE_OPTIONS = {"wgfmu": "--wgfmu-address", "b1500": "--b1500-address"}


def pytest_addoption(parser):
    group = parser.getgroup("hardware", "real instruments (tests skipped unless given)")
    group.addoption("--wgfmu-address", default=None, help="VISA address of a B1500A with a B1530A WGFMU")
    group.addoption("--b1500-address", default=None, help="VISA address of a B1500A for the SMU driver")
    group.addoption("--visa-library", default=None,
                    help="pyvisa backend for the hardware tests (@ivi, @py, a VISA library path) [default: system VISA, else @py]")
    group.addoption("--wgfmu-library", default=None, help="Path of wgfmu.dll for the hardware tests [default: system]")


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("hardware")
        if marker is None:
            continue
        instrument = marker.args[0] if marker.args else "wgfmu"
        option = HARDWARE_OPTIONS[instrument]
        if not config.getoption(option):
            item.add_marker(pytest.mark.skip(reason=f"needs a real {instrument}: give {option}"))


@pytest.fixture
def wgfmu_address(request) -> str:
    return request.config.getoption("--wgfmu-address")


@pytest.fixture
def b1500_address(request) -> str:
    return request.config.getoption("--b1500-address")


@pytest.fixture
def visa_library(request) -> str | None:
    return request.config.getoption("--visa-library")


@pytest.fixture
def wgfmu_library(request) -> str | None:
    return request.config.getoption("--wgfmu-library")


@pytest.fixture(autouse=True, scope="session")
def _simulated_instrument_state(tmp_path_factory):
    """The simulated instruments keep their outputs in state files: the tests' own folder, not the user's."""
    import os

    from memlab.instruments.output_state import STATE_DIR_ENV

    previous = os.environ.get(STATE_DIR_ENV)
    os.environ[STATE_DIR_ENV] = str(tmp_path_factory.mktemp("sim-instrument-state"))
    yield
    if previous is None:
        os.environ.pop(STATE_DIR_ENV, None)
    else:
        os.environ[STATE_DIR_ENV] = previous


@pytest.fixture(scope="session")
def digits_checkpoints(tmp_path_factory):
    """One checkpoint folder for every `memlab simulate --task digits` test (tests.helpers.simulate_cli)."""
    return tmp_path_factory.mktemp("digits-checkpoints")
