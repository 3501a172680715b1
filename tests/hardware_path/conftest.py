"""Fixtures of the hardware-path tests: the compiled WGFMU stand-in and the FLEX server on 127.0.0.1.

The stand-in is compiled once per test session with the system C compiler;
without one, every test that needs it is skipped with that reason.
"""

from __future__ import annotations

import subprocess

import pytest
from standin import StandIn, build, compiler


@pytest.fixture(scope="session")
def standin_path(tmp_path_factory):
    if compiler() is None:
        pytest.skip("no C compiler (CC, cc, gcc or clang) on PATH to build the WGFMU library stand-in")
    try:
        return build(tmp_path_factory.mktemp("wgfmu_standin"))
    except subprocess.CalledProcessError as exc:  # a broken build is a failure, not a skip
        pytest.fail(f"the WGFMU stand-in did not compile:\n{exc.stderr}")


@pytest.fixture
def standin(standin_path):
    """The stand-in, reset before and after the test (its state is global to the process)."""
    s = StandIn(standin_path)
    s.reset()
    yield s
    s.reset()


@pytest.fixture
def flex_server():
    """A FLEX server on 127.0.0.1 in front of a simulated B1500A (an ohmic 1 mS device on SMU 1)."""
    from flex_server import FlexServer

    with FlexServer() as server:
        yield server
