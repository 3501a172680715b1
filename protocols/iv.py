"""The I-V runner: DC double sweeps on one B1500A SMU, one archive row per loop.

Each loop runs every branch of ``stops_V`` as a two-way staircase sweep
0 -> stop -> 0 (FLEX ``WV`` mode 3) and appends the forced voltages, the
measured currents and their FLEX status (compliance, overflow ...) as one
row of ``/iv``, flushed at once.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from .archive import ArchiveWriter
from .protocol import IVSweepProtocol
from .session import RunResult, recording

SMU_MAX_COMPLIANCE_A = 0.1
"""Used when the protocol gives no compliance (compliance-free devices): the SMU's own limit."""


def run_iv(protocol: IVSweepProtocol, smu, writer: ArchiveWriter, *, progress: bool = True) -> RunResult:
    """Run every loop of ``protocol`` on ``smu`` (a :class:`~memlab.instruments.b1500.B1500`).

    Continues after the loops already in ``writer``; the SMU ends at 0 V and
    disconnected whatever happens.
    """
    p = protocol
    if not writer.has_group("iv"):
        writer.begin_iv(points=p.points_per_sweep, sweeps_planned=p.sweeps)
    done = writer.rows("iv")
    compliance = SMU_MAX_COMPLIANCE_A if p.compliance_A is None else p.compliance_A
    voltages = np.concatenate([p.branch_voltages_V(stop) for stop in p.stops_V])
    started = time.perf_counter()
    bar = tqdm(total=p.sweeps, initial=done, unit="sweep", desc=p.name, disable=not progress, dynamic_ncols=True)
    with recording(smu, writer, bar):
        smu.set_format(1)
        smu.enable([p.smu_channel])
        for _ in range(done, p.sweeps):
            points = []
            for stop in p.stops_V:
                points += smu.staircase_sweep(p.smu_channel, 0.0, stop, p.branch_steps(stop), compliance,
                                              two_way=True, hold_s=p.hold_s, delay_s=p.delay_s)
            current = np.array([pt.value for pt in points], dtype=np.float64)
            status = np.array([int(pt.status) for pt in points], dtype=np.uint16)
            writer.append_iv(voltages, current, status)
            bar.update(1)
    return RunResult("complete", p.sweeps, "", time.perf_counter() - started, "sweep")
