"""``memlab watch RUN.h5``: follow a run archive while it is written.

Conductance against pulse for the last cycles, the states building up (per-pulse
mean ± σ over every cycle so far) and the cycle counter; I-V runs show their
last sweeps, retention runs G(t) per state. A matplotlib window where there is
a display; on a headless machine (or with ``png``) a PNG rewritten at every
refresh (written to a temporary name and renamed, so a viewer never sees half).

Memory and time per refresh do not grow with the run: a pulse run's per-pulse
statistics are merged block by block (:class:`PulseFollower`) and each refresh
reads only the cycles that landed since the last one.

It never holds a lock the writer needs: each refresh opens the archive
read-only through the one reader, with HDF5's file locking off, and never
touches the writer's lock file except for the reader's own "is the writer
alive?" probe, a shared lock held for microseconds that the writer waits out
(``memlab.protocols.archive_lock``). A refresh that catches the file in the
middle of a flush (HDF5 without SWMR can show a half-written state) is skipped
and the last picture kept.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from memlab.errors import ConfigError, MemlabError
from memlab.safe_text import figure_text

uS = 1e6


@dataclass
class WatchResult:
    """What a watch did: refreshes drawn, refreshes skipped (file mid-flush), the last state seen."""

    frames: int = 0
    skipped: int = 0
    cycles: int = 0
    status: str = ""
    png: pathlib.Path | None = None


def headless() -> bool:
    """No display to open a window on (Linux/BSD without $DISPLAY or $WAYLAND_DISPLAY)."""
    if sys.platform.startswith(("win", "darwin")):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class PulseFollower:
    """What the pulse panels show, kept across refreshes: the per-pulse moments of every
    cycle so far and the conductance of the last cycles (µS). Each :meth:`update` reads
    only the cycles that landed since the last one, a block at a time and without the
    raw waveforms, so a refresh costs memory and time of the new cycles, not of the run."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.uuid: str | None = None
        self.done = 0
        self.moments = None
        self.tail = np.empty((0, 0))

    def update(self, run) -> None:
        from memlab.analysis.conductance import conductance
        from memlab.analysis.streaming import Moments

        n, width = run.n_cycles, sum(run.pulse_counts)
        if run.uuid != self.uuid or n < self.done or self.moments is None:  # a new (or rewritten) run
            self.uuid, self.done, self.moments, self.tail = run.uuid, 0, Moments.empty(width), np.empty((0, width))
        for block in run.pulse_chunks([(self.done, n)], waveforms=False):
            g = conductance(block.read_current_A, block.read_voltage_V, block.read_status,
                            block.read_conductance_S).g_S * uS
            self.moments = self.moments.merge(Moments.of(g))
            self.tail = np.vstack([self.tail, g[-self.last:]])[-self.last:]
        self.done = max(self.done, n)


def _pulses_panels(fig, run, last: int, follower: PulseFollower | None = None) -> str:
    follower = follower or PulseFollower(last)
    follower.update(run)
    n_up, n_down = run.pulse_counts
    n, tail = follower.done, follower.tail
    a1, a2 = fig.subplots(1, 2)
    x = np.arange(1, n_up + n_down + 1)
    import matplotlib

    shade = matplotlib.colormaps["Blues"]
    for k in range(tail.shape[0]):
        cycle = n - tail.shape[0] + k  # 0-based index of that cycle in the run
        age = (tail.shape[0] - 1 - k) / max(1, last - 1)  # 0 for the newest cycle, darkest
        a1.plot(x, tail[k], "-", lw=1.2, color=shade(1.0 - 0.65 * age),
                label=f"cycle {cycle + 1}" if k in (0, tail.shape[0] - 1) else None)
    for ax in (a1, a2):
        ax.axvline(n_up + 0.5, color="k", lw=0.5)
        ax.set(xlabel="pulse number", ylabel="conductance (µS)")
    a1.set_title(f"last {min(last, n)} cycles")
    if n:
        a1.legend(frameon=False, fontsize=8)
        m = follower.moments
        mean, std = m.mean_or_nan, np.where(m.n >= 2, m.sigma, 0.0)  # sigma of one read: shown as 0
        for name, sl, c in (("potentiation", slice(0, n_up), "tab:red"),
                            ("depression", slice(n_up, None), "tab:blue")):
            a2.errorbar(x[sl], mean[sl], yerr=std[sl], fmt="o", ms=3, capsize=2, color=c, label=name)
        a2.legend(frameon=False, fontsize=8)
    a2.set_title(f"states building up: mean ± σ over {n} cycles")
    planned = run.cycles_planned
    return f"cycle {n}" + (f" of {planned}" if planned else "")


def _iv_panels(fig, run, last: int) -> str:
    iv = run.iv
    ax = fig.subplots()
    n = iv.voltage_V.shape[0]
    for k in range(max(0, n - last), n):
        ax.plot(iv.voltage_V[k], np.abs(iv.current_A[k]), lw=1, label=f"sweep {k + 1}")
    ax.set(yscale="log", xlabel="voltage (V)", ylabel="|current| (A)", title=f"last {min(last, n)} sweeps")
    if n:
        ax.legend(frameon=False, fontsize=8)
    return f"sweep {n}"


def _retention_panels(fig, run, last: int) -> str:
    r = run.retention
    ax = fig.subplots()
    with np.errstate(divide="ignore", invalid="ignore"):
        g = r.current_A / r.voltage_V * uS
    for k in range(r.time_s.shape[0]):
        ax.plot(r.time_s[k], g[k], "o-", ms=2, lw=1, label=f"state {k + 1} ({int(r.target_pulses[k])} pulses)")
    ax.set(xscale="log", xlabel="time after programming (s)", ylabel="conductance (µS)")
    if r.time_s.shape[0]:
        ax.legend(frameon=False, fontsize=8)
    return f"state {r.time_s.shape[0]}"


def render(run, fig, last: int = 5, follower: PulseFollower | None = None) -> tuple[str, int]:
    """Draw ``run`` into ``fig`` (cleared first); returns (counter text, rows so far).
    ``follower`` carries a pulse run's statistics from one refresh to the next."""
    fig.clear()
    if run.pulse_counts is not None:
        counter, rows = _pulses_panels(fig, run, last, follower), run.n_cycles
    elif run.iv is not None:
        counter, rows = _iv_panels(fig, run, last), run.iv.voltage_V.shape[0]
    elif run.retention is not None:
        counter, rows = _retention_panels(fig, run, last), run.retention.time_s.shape[0]
    else:
        counter, rows = "no data yet", 0
    sample = run.attrs.get("sample_id") if isinstance(run.attrs.get("sample_id"), str) else ""
    who = f" (sample {figure_text(sample, 40)})" if sample else ""  # text from the file: never mathtext
    fig.suptitle(f"{figure_text(run.path.name)}{who}: {counter} · {run.status} · {time.strftime('%H:%M:%S')}",
                 fontsize=11)
    return counter, rows


def _write_png(fig, png: pathlib.Path) -> None:
    tmp = png.with_name(png.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(png)


def watch(path: str | os.PathLike, *, interval_s: float = 2.0, png: str | os.PathLike | None = None,
          last_cycles: int = 5, until_done: bool = False, max_frames: int | None = None,
          wait_s: float = 60.0) -> WatchResult:
    """Follow the archive at ``path``: redraw whenever rows land, every ``interval_s`` seconds.

    Runs until the window is closed (or Ctrl-C); ``until_done`` stops once the run
    is no longer being written (after a last frame); ``max_frames`` after that many
    drawn frames. Headless (or with ``png``): rewrites ``png`` (default ``RUN.live.png``).
    ``wait_s``: how long to wait for the archive to appear.
    """
    import matplotlib

    from memlab.protocols.archive import read_run

    if not interval_s > 0:
        raise ConfigError(f"--interval {interval_s}: must be > 0 seconds")
    if last_cycles < 1:
        raise ConfigError(f"--last {last_cycles}: must be >= 1")
    path = pathlib.Path(path)
    gui = png is None and not headless()
    result = WatchResult(png=None if gui else pathlib.Path(png or path.with_name(path.stem + ".live.png")))
    if not gui:
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if gui:
        plt.switch_backend(matplotlib.rcParamsDefault["backend"])
        plt.ion()
    _wait_for(path, wait_s, interval_s)
    fig = plt.figure(figsize=(11, 4.4))
    seen, follower = None, PulseFollower(last_cycles)
    try:
        while True:
            try:
                run = read_run(path, waveforms=False)
            except (MemlabError, OSError, KeyError, ValueError):
                result.skipped += 1  # caught mid-flush (or not yet a valid archive): keep the last frame
                run = None
            if run is not None and (run.status, _rows(run)) != seen:
                seen = _redraw(run, fig, last_cycles, follower, result, gui)
            done = run is not None and run.status != "running"  # complete, failed, or no live writer
            if (until_done and done) or (max_frames is not None and result.frames >= max_frames):
                break
            if gui:
                if not plt.fignum_exists(fig.number):
                    break
                plt.pause(interval_s)
            else:
                time.sleep(interval_s)
    except KeyboardInterrupt:
        pass
    if gui and until_done and plt.fignum_exists(fig.number):
        plt.ioff()
        plt.show()  # keep the final picture up until the user closes it
    plt.close(fig)
    return result


def _wait_for(path: pathlib.Path, wait_s: float, interval_s: float) -> None:
    """Until the archive at ``path`` exists; ConfigError after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise ConfigError(f"{path}: no run archive appeared within {wait_s:g} s")
        time.sleep(min(interval_s, 0.2))


def _redraw(run, fig, last_cycles: int, follower: "PulseFollower", result: WatchResult, gui: bool) -> tuple:
    """One frame of ``run`` (on screen, or rewritten to ``result.png``); returns what it showed."""
    counter, rows = render(run, fig, last_cycles, follower)
    result.frames, result.cycles, result.status = result.frames + 1, rows, run.status
    if gui:
        fig.canvas.draw_idle()
    else:
        _write_png(fig, result.png)
    return (run.status, rows)


def _rows(run) -> int:
    if run.pulse_counts is not None:
        return run.n_cycles  # nothing read
    for data, key in ((run.iv, "voltage_V"), (run.retention, "time_s")):
        if data is not None:
            return int(getattr(data, key).shape[0])
    return 0


@contextlib.contextmanager
def live_beside(out: str | os.PathLike, enabled: bool = True):
    """``memlab measure --live``: a watcher beside the run for the ``with`` block (nothing when not enabled)."""
    if not enabled:
        yield None
        return
    proc = start_live(out)
    try:
        yield proc
    except BaseException:
        proc.terminate()  # the run never started or failed: nothing left to follow
        raise
    finish_live(proc)


def start_live(out: str | os.PathLike, interval_s: float = 1.0):
    """``memlab measure --live``: a ``memlab watch --until-done`` process beside the run (its own
    process: HDF5 shares a file opened twice in one process, so a watcher must not live in the writer's)."""
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "memlab.cli", "watch", str(out), "--until-done",
                             "--interval", str(interval_s)])


def finish_live(proc, timeout_s: float = 60.0) -> None:
    """Headless: wait for the watcher's last picture. With a window, leave it up for the user."""
    import subprocess

    if headless():
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.terminate()
