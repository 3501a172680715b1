"""The demo's ``index.html``: a static report worth sending to a collaborator.

In the order of the path (protocol → raw data → states → bins → energy → drift →
accuracy), every figure with a caption, full width on click (a CSS ``:target``
overlay: no script, nothing fetched from outside the folder), a protocol
summary, a short glossary, and the provenance of every drift number where the
number is shown (measured retention, or a literature model). Every text that
comes from a file is escaped.
"""

from __future__ import annotations

import pathlib
from typing import Any

from memlab.safe_text import html_text

# figure stem (task prefix removed) -> (section, caption); the dict order is the page's order
FIGURES: dict[str, tuple[str, str]] = {
    "cycles": ("raw", "Every programming cycle overlaid (grey) with the mean of each branch (dashed): "
                      "conductance read after each pulse, potentiation first (Fig. 2d of the paper)."),
    "energy_per_pulse": ("energy", "Energy of each programming pulse (∫V·I dt over the pulse) against its "
                                   "position in the cycle, mean ± σ over cycles."),
    "window": ("states", "The linear window of each branch: state means ± cycle-to-cycle σ and the linear fits "
                         "(Fig. 2e)."),
    "states_cdf": ("states", "Cumulative distribution of each state's conductance over cycles, one curve per "
                             "state: separated curves are distinguishable states."),
    "sigma": ("states", "Cycle-to-cycle σ of every state against its conductance, beside the bin width / k "
                        "that separation needs (Fig. 2f)."),
    "bins": ("bins", "The usable differential levels G⁺ − G⁻ of a device pair, ± σ."),
    "energy": ("energy", "Programming energy per full cycle (all potentiation and depression pulses), histogram "
                         "over cycles; the dashed line is the mean."),
    "retention": ("drift", "Measured retention: conductance of programmed states against time after "
                           "programming, with the fitted drift exponent ν per state."),
    "accuracy": ("accuracy", "Test accuracy of the digital network and of the analog network at programming "
                             "time (mean ± std over programming repeats), on a full axis from 0."),
    "accuracy_vs_time": ("accuracy", "Test accuracy against time after programming as the conductances drift, "
                                     "with and without hardware-aware training (HWAT) and global drift "
                                     "compensation (GDC)."),
    "d2d_sweep": ("accuracy", "Test accuracy at programming time against the device-to-device variation."),
    "network_energy": ("cost", "Per analog layer: the energy to program every device once (mean ± std over "
                               "programming repeats) and the inference energy per image, split into crossbar "
                               "reads, DAC and ADC conversions."),
    "budget": ("budget", "Where the accuracy goes: from the network's weights on ideal hardware to the full analog "
                         "result, each bar one non-ideality switched on in turn (its cumulative cost, 95 % CI over "
                         "paired repeats); the diamonds are each one's cost switched on alone."),
}
SECTIONS = {"protocol": "1. Protocol", "raw": "2. Raw data", "states": "3. States", "bins": "4. Bins",
            "energy": "5. Energy", "drift": "6. Drift", "accuracy": "7. Network accuracy",
            "cost": "8. Network cost", "budget": "9. Accuracy budget"}
GLOSSARY = {
    "C2C σ": "cycle-to-cycle standard deviation: how much the same state differs from one programming cycle to "
             "the next.",
    "D2D": "device-to-device variation: how much devices of one array differ from each other (step size, range).",
    "bin": "one distinguishable level of a differential pair G⁺ − G⁻; neighbours must differ by more than k σ.",
    "HWAT": "hardware-aware training: training with the analog non-idealities (noise, quantisation) in the loop.",
    "GDC": "global drift compensation: one scale factor per layer, measured at read time, that undoes the mean "
           "conductance drift.",
    "ADC / DAC": "analog-to-digital / digital-to-analog converters at the crossbar's outputs / inputs; their bits "
                 "limit the precision of each matrix-vector product.",
    "ν (nu)": "drift exponent of memlab's drift law G(t) = G(0)·(1 + t/t₀)^−ν.",
}
DRIFT_MODELS = {"measured": "measured retention of this device (device file key drift.nu_mean)",
                "wan2022": "a literature model (Wan et al., Nature 2022 RRAM drift, through aihwkit's "
                           "ReRamWan2022NoiseModel), not a measurement of this device",
                "none": "no drift applied"}

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
pre{background:#f4f4f4;padding:1em;overflow-x:auto} table{border-collapse:collapse;margin:0.5em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
figure{display:inline-block;vertical-align:top;margin:0.6em;width:480px;max-width:100%}
figure img{width:100%;border:1px solid #ddd;cursor:zoom-in} figcaption{font-size:0.9em;color:#444}
.lightbox{display:none;position:fixed;inset:0;background:rgba(0,0,0,0.85);z-index:10;padding:2vh 2vw}
.lightbox:target{display:block} .lightbox img{display:block;max-width:96vw;max-height:88vh;margin:auto;
background:#fff;cursor:zoom-out} .lightbox p{color:#eee;text-align:center}
.provenance{background:#fff6dd;border-left:4px solid #e0a800;padding:0.4em 0.8em} dt{font-weight:bold}"""


def esc(text: Any) -> str:
    return html_text(text)


def link(path: pathlib.Path, root: pathlib.Path, text: str | None = None) -> str:
    rel = path.relative_to(root).as_posix()
    return f'<a href="{esc(rel)}">{esc(text or rel)}</a>'


def figure_key(stem: str, task: str) -> str:
    return stem[len(task) + 1:] if stem.startswith(f"{task}_") else stem


def collect_figures(folders: list[pathlib.Path], task: str) -> dict[str, list[tuple[str, pathlib.Path]]]:
    """PNG figures per section, in the page's order (unknown figures go last in their folder's section)."""
    found = {figure_key(p.stem, task): p for folder in folders if folder.is_dir() for p in sorted(folder.rglob("*.png"))}
    out: dict[str, list[tuple[str, pathlib.Path]]] = {s: [] for s in SECTIONS}
    for key, (section, _) in FIGURES.items():
        if key in found:
            out[section].append((key, found.pop(key)))
    for key, path in found.items():
        out["accuracy" if "simulation" in path.parts else "states"].append((key, path))
    return out


def figure_html(key: str, png: pathlib.Path, root: pathlib.Path, extra: str = "") -> str:
    src = esc(png.relative_to(root).as_posix())
    svg = png.with_suffix(".svg")
    caption = FIGURES.get(key, ("", key))[1]
    files = f"{link(png, root, 'PNG')}" + (f" · {link(svg, root, 'SVG')}" if svg.exists() else "")
    anchor = f"fig-{esc(key)}"
    return (f'<figure id="{anchor}-small"><a href="#{anchor}"><img src="{src}" alt="{esc(caption)}"></a>'
            f"<figcaption><b>{esc(key)}</b>: {esc(caption)}{extra} ({files})</figcaption></figure>\n"
            f'<div class="lightbox" id="{anchor}"><a href="#{anchor}-small"><img src="{src}" alt="{esc(caption)}">'
            f"</a><p>{esc(caption)} (click to close)</p></div>")


def protocol_rows(protocol: dict, run_attrs: dict | None = None) -> list[tuple[str, str]]:
    """A few lines on what was applied and to what, from the run's protocol JSON and attributes
    (sample, device, operator, notes: text from a file, escaped where it is shown)."""
    run_attrs = run_attrs or {}
    rows = [("protocol", f"{protocol.get('name', '?')}: {protocol.get('description', '')}")]
    for key, label in (("sample_id", "sample"), ("device_id", "device"), ("operator", "operator"),
                       ("notes", "notes")):
        if run_attrs.get(key):
            rows.append((label, str(run_attrs[key])))
    for branch in ("potentiation", "depression"):
        b = protocol.get(branch)
        if isinstance(b, dict) and b.get("amplitude_V"):
            amp, width = b["amplitude_V"], b.get("width_s") or [float("nan")]
            rows.append((branch, f"{len(amp)} pulses, {b.get('polarity', '')} polarity, "
                                 f"{min(amp):.3g}–{max(amp):.3g} V, {min(width) * 1e9:.0f}–{max(width) * 1e9:.0f} ns"))
    read = protocol.get("read")
    if isinstance(read, dict):
        rows.append(("read", ", ".join(f"{k} {v}" for k, v in read.items() if not isinstance(v, (dict, list)))))
    for key in ("cycles", "current_range"):
        if key in protocol:
            rows.append((key.replace("_", " "), str(protocol[key])))
    return rows


def cost_html(cost: dict) -> str:
    """The energy block as a table: per layer and in total, with its parameters and assumptions."""
    rows = []
    for layer in cost["layers"] + [{"name": "network", **cost, "tiles": sum(x["tiles"] for x in cost["layers"])}]:
        p, i = layer["programming"], layer["inference_per_image"]
        rows.append(f"<tr><td>{esc(layer['name'])}</td><td>{layer['devices']:,}</td><td>{p['pulses_mean']:.4g}</td>"
                    f"<td>{p['energy_J_mean']:.3g} ± {p['energy_J_std']:.2g}</td><td>{p['time_s_mean']:.3g}</td>"
                    f"<td>{i.get('total_J', 0):.3g}</td><td>{layer['macs_per_image']:.3g}</td></tr>")
    par = cost["parameters"]
    notes = [f"Read pulse {par['timing']['read_voltage_V']:g} V for {par['timing']['read_time_s']:g} s and pulse "
             f"period {par['timing']['pulse_period_s']:.4g} s from the {par['timing']['source']}",
             f"energy per pulse: {par['pulse_energy']['source']}", f"converters: {par['converters']['source']}",
             *cost["assumptions"]]
    return ("<table><tr><th>layer</th><th>devices</th><th>programming pulses</th><th>programming J</th>"
            "<th>programming s</th><th>inference J / image</th><th>MACs / image</th></tr>" + "".join(rows)
            + "</table><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")


def _points(cost: dict) -> str:
    ci = cost.get("ci95")
    text = f"{100 * cost['mean']:+.2f}"
    return text if ci is None else f"{text} [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]"


def budget_html(budget: dict) -> str:
    """The accuracy budget as a table: points lost per non-ideality, cumulative and alone (95 % CI)."""
    rows = [f"<tr><td>{esc(r['label'])}</td><td>{100 * r['cumulative_accuracy']['mean']:.2f} %</td>"
            f"<td>{esc(_points(r['cumulative_cost']))}</td><td>{esc(_points(r['alone_cost']))}</td></tr>"
            for r in budget["stages"]]
    notes = [f"{budget['network']} network on the {budget['branch']} branch, evaluated {budget['t_s']:g} s after "
             f"programming, {budget['repeats']} paired repeats (the stages of a repeat share their random numbers)",
             f"digital network {100 * budget['digital_accuracy']:.2f} %; its weights on ideal hardware "
             f"{100 * budget['weights_on_ideal_hardware']:.2f} %",
             f"total {_points(budget['total_cost'])} points (the cumulative costs add up to it); the costs alone sum "
             f"to {100 * budget['sum_of_alone_costs']['mean']:+.2f}, so the non-idealities interact by "
             f"{_points(budget['interaction'])} points",
             *(f"not in this configuration: {why} ({stage})" for stage, why in budget["absent"].items())]
    return ("<table><tr><th>non-ideality (switched on in this order)</th><th>accuracy with it</th>"
            "<th>points lost, cumulative [95 % CI]</th><th>points lost alone [95 % CI]</th></tr>" + "".join(rows)
            + f"<tr><th>full analog</th><th>{100 * budget['full']['mean']:.2f} %</th>"
              f"<th>{esc(_points(budget['total_cost']))}</th><th></th></tr></table><ul>"
            + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")


def report_html(*, root: pathlib.Path, title: str, steps: str, files: dict[str, pathlib.Path], protocol: dict,
                table: str, results: dict, accuracy_rows: list[tuple[str, str, str]], device_drift: Any,
                figure_folders: list[pathlib.Path], task: str, run_attrs: dict | None = None) -> str:
    """The whole page (text from files escaped)."""
    drift = results.get("config", {}).get("options", {}).get("drift", "none")
    drift_text = DRIFT_MODELS.get(drift, drift)
    if drift == "measured" and device_drift is not None:
        drift_text += f": ν = {device_drift.nu_mean:.4f} ± {device_drift.nu_std:.4f} over {device_drift.span_s:.3g} s"
    label = (results.get("drift_model") or {}).get("label")
    if label:
        drift_text += f"; {label}"
    provenance = f'<p class="provenance">Drift in these numbers: <b>{esc(drift)}</b>, {esc(drift_text)}.</p>'
    figs = collect_figures(figure_folders, task)
    parts = []
    for section, heading in SECTIONS.items():
        body = ""
        if section == "protocol":
            body = "<table>" + "".join(f"<tr><th>{esc(a)}</th><td>{esc(b)}</td></tr>"
                                       for a, b in protocol_rows(protocol, run_attrs)) + "</table>"
            body += f"<p>Measurement archive: {link(files['run'], root)}.</p>"
        elif section == "states":
            body = (f"<p>Device file {link(files['device'], root)}; the headline numbers beside the reference "
                    f"paper's:</p><pre>{esc(table)}</pre>")
        elif section == "drift":
            body = provenance if not figs["drift"] else ""
            if device_drift is None:
                body += "<p>No retention run was analysed: the device file holds no measured drift.</p>"
        elif section == "accuracy":
            body = (f"<p>From {link(files['results'], root)} (device file SHA-256 "
                    f"<code>{esc(results.get('device_file_sha256', ''))}</code>).</p>{provenance}"
                    "<table><tr><th>quantity</th><th>memlab</th><th>paper</th></tr>"
                    + "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td></tr>"
                              for a, b, c in accuracy_rows) + "</table>")
        elif section == "cost" and results.get("energy"):
            body = cost_html(results["energy"])
        elif section == "budget" and results.get("budget"):
            body = budget_html(results["budget"])
        for key, png in figs[section]:
            extra = f" Drift: {esc(drift)} ({esc(drift_text)})." if key == "accuracy_vs_time" else ""
            if key == "retention":
                extra = " Drift: measured retention of this device."
            body += figure_html(key, png, root, extra)
        if body:
            parts.append(f'<h2 id="{section}">{esc(heading)}</h2>\n{body}')
    glossary = "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in GLOSSARY.items()) + "</dl>"
    nav = " · ".join(f'<a href="#{s}">{esc(h)}</a>' for s, h in SECTIONS.items()) + ' · <a href="#glossary">Glossary</a>'
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body>\n<h1>{title}</h1>\n<p>{esc(steps)}</p>\n<p>{nav}</p>\n"
            + "\n".join(parts) + f'\n<h2 id="glossary">Glossary</h2>\n{glossary}\n</body></html>\n')
