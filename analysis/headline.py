"""The short table ``memlab analyze`` prints: a device file's headline numbers, with the paper's beside them.

Pure: a :class:`~memlab.analysis.device_file.DeviceFile` in, text out. The paper's
numbers come from :mod:`memlab.reference`, as every comparison with the paper does.
"""

from __future__ import annotations

from memlab import reference as ref
from memlab.analysis import device_file as dfm


PAPER_TABLE = {  # the reference paper's headline numbers, from memlab.reference (paper.txt, section 2)
    "states per branch": f"{ref.STATES_PER_BRANCH.value}",
    "differential bins": f"{ref.N_BINS.value}",
    "bin width up / down (uS)": f"{ref.BIN_WIDTH_UP.value:.3f} / {ref.BIN_WIDTH_DOWN.value:.3f}",
    "sigma mean (uS)": f"{ref.SIGMA_MEAN.value:.3f}",
    "R^2 up / down": f"{ref.R2_UP.value:.5f} / {ref.R2_DOWN.value:.5f}",
    "energy per cycle (nJ)": f"{ref.ENERGY_PER_CYCLE.value:.2f} +- {ref.ENERGY_PER_CYCLE.std:.2f}",
}


def _ci(d: dfm.DeviceFile, key: str, scale: float = 1.0, fmt: str = "{:.3f}") -> str:
    ci = d.confidence_intervals.get(key)
    return "" if ci is None else f"[{fmt.format(ci.low * scale)}, {fmt.format(ci.high * scale)}]"


def headline_rows(d: dfm.DeviceFile) -> list[tuple[str, str, str]]:
    """(quantity, value, confidence interval) rows of the short table."""
    up, dn = d.branch("potentiation"), d.branch("depression")
    rows = [
        ("states per branch", f"{d.states_per_branch} (m = {d.pulses_per_state})", ""),
        ("differential bins", f"{d.n_bins}", _ci(d, "n_bins", fmt="{:.0f}")),
        ("bin width up / down (uS)", f"{up.bin_width_S * 1e6:.3f} / {dn.bin_width_S * 1e6:.3f}",
         f"{_ci(d, 'branches.potentiation.bin_width_S', 1e6)} / {_ci(d, 'branches.depression.bin_width_S', 1e6)}"),
        ("sigma mean (uS)", f"{d.sigma_mean_S * 1e6:.3f}", _ci(d, "sigma_mean_S", 1e6)),
        ("R^2 up / down", f"{up.r_squared:.5f} / {dn.r_squared:.5f}",
         f"{_ci(d, 'branches.potentiation.r_squared', fmt='{:.5f}')} / "
         f"{_ci(d, 'branches.depression.r_squared', fmt='{:.5f}')}"),
    ]
    if d.energy_per_cycle_J is not None:
        e = d.energy_per_cycle_J
        rows.append(("energy per cycle (nJ)", f"{e.mean * 1e9:.2f} +- {e.std * 1e9:.2f}",
                     _ci(d, "energy_per_cycle_J.mean", 1e9, "{:.2f}")))
    else:
        rows.append(("energy per cycle (nJ)", "n/a (no waveforms)", ""))
    rows += [
        ("G min / max (mS)", f"{d.g_min_S * 1e3:.4f} / {d.g_max_S * 1e3:.4f}", ""),
        ("windows up / down (pulses)", f"{up.window_start_pulse}:{up.window_stop_pulse} / "
                                        f"{dn.window_start_pulse}:{dn.window_stop_pulse}", ""),
        ("slope ratio, nonlinearity up / down", f"{d.symmetry.slope_ratio:.4f}, "
                                                 f"{up.nonlinearity:.3f} / {dn.nonlinearity:.3f}", ""),
    ]
    if d.d2d is not None:
        q = d.d2d.quantities

        def cv(key: str) -> str:
            return f"{100 * q[key].std / abs(q[key].mean):.1f} %" if key in q and q[key].mean else "n/a"

        rows.append((f"d2d spread over {d.d2d.n_devices} devices",
                     f"slope up {cv('branches.potentiation.slope_S_per_pulse')}, "
                     f"down {cv('branches.depression.slope_S_per_pulse')}, G min {cv('g_min_S')}",
                     "(std / mean)"))
    if d.drift is not None:
        rows.append(("drift nu (mean +- std)", f"{d.drift.nu_mean:.4f} +- {d.drift.nu_std:.4f}",
                     f"change {d.drift.relative_change * 100:.2f} % over {d.drift.span_s:.3g} s"))
    return rows


def format_table(d: dfm.DeviceFile, compare_paper: bool = False) -> str:
    """The headline numbers as a plain-text table (optionally beside the paper's)."""
    # A pair of absent intervals leaves only its " / ": no interval (e.g. --bootstrap 0) shows nothing.
    rows = [(name, value, ci if ci.strip(" /") else "") for name, value, ci in headline_rows(d)]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    has_ci = any(ci and not ci.startswith(("(", "change")) for _, _, ci in rows)
    head = f"{'quantity':<{w0}}  {'value':<{w1}}  " + ("paper" if compare_paper else "95% CI" if has_ci else "")
    head = head.rstrip()
    lines = [head, "-" * len(head)]
    for name, value, ci in rows:
        extra = PAPER_TABLE.get(name, "") if compare_paper else ci
        lines.append(f"{name:<{w0}}  {value:<{w1}}  {extra}".rstrip())
    return "\n".join(lines)
