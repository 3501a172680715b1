"""Training noise derived from the device file: what a weight becomes when it is deployed.

With ``AnalogOptions.hwat_noise = 'device'`` (the default) every training step computes
with the weight a chip would hold ``hwat_drift_horizon_s`` after programming, drawn from
the same numbers the deployment simulation (:class:`~memlab.simulation.analog.DeviceNoiseModel`)
uses; with ``'aihwkit'`` the step uses aihwkit's modifier (mean σ, a fresh D2D draw every
step), the arithmetic :mod:`.hwat_fast` is tested equal to. In state units (one state step
of the linear fit = 1; a weight ``w`` of a tile normalised to max 1 targets ``u = |w| (S - 1)``
steps on the device of its sign, the other device of the pair stays at the first state):

1. **D2D instance** (``hwat_d2d_hold``): each device's step factor ``d`` and range factor
   ``b`` (both ``N(1, d2d)``, as at programming) and its drift-exponent spread are drawn once
   per epoch (``'epoch'``: one chip per epoch, so the network trains against the spread that
   will be deployed, never against one instance), once for the whole training
   (``'training'``), or every step (``'step'``, aihwkit's semantics). Evaluation always
   programs fresh instances (the experiment's own programming seeds).
2. **Programming**: write-verify ends on the device's own grid, ``min(round(u / d) d, b (S-1))``;
   open loop gives ``d × Δmean[n]`` with the measured per-state means.
3. **Per-state programming σ**: the active device adds ``σ[n] / step × N(0, 1)`` of its state
   ``n = round(u)``, the idle one ``σ[0] / step × N(0, 1)``, drawn every step (cycle-to-cycle).
4. **Drift at the horizon** (``drift = 'measured'``): both devices' absolute conductances are
   multiplied by ``(1 + t/t0)^-nu`` with ``nu = nu(G) + spread × z`` (``z`` held with the D2D
   instance) and get the retention read noise; ``'wan2022'``: the state is replaced by aihwkit's
   ``level + σ(t)`` through the noise model itself. With drift compensation on, the tile's
   weights are scaled back by ``Σ|w(0)| / Σ|w(t)|`` (aihwkit's global compensation, per tile).
5. The result replaces the weight in the forward pass; the gradient is straight-through
   (the network learns the weights, the device only perturbs them).

``hwat_noise_scale`` scales the D2D spread, the σ and the drift's deviation from its
mean together (1 = as deployed). Weight clipping at ``hwat_clip_sigma`` × the tile's weight
std is applied after every optimizer step (:meth:`~.hwat_layers.FastTile.remap_`).
"""

from __future__ import annotations

from typing import Any

import torch

HOLD_MODES = ("epoch", "training", "step")


class TileNoise:
    """The device-derived training noise of one tile (see the module docstring).

    ``noise_model`` is the tile's ``DeviceNoiseModel`` (its ``branch`` and ``options``)."""

    def __init__(self, noise_model: Any, shape: torch.Size, device: torch.device) -> None:
        self.model = noise_model
        b, o = noise_model.branch, noise_model.options
        self.options, self.branch = o, b
        self.shape, self.device = shape, device
        self.states = b.states
        self.scale = o.hwat_noise_scale
        self.sigma_u = torch.tensor(b.sigma_uS, device=device) / b.step_uS * self.scale
        self.delta_u = torch.tensor(b.delta_mean_uS, device=device) / b.step_uS
        self.horizon_s = float(o.hwat_drift_horizon_s) if o.drift != "none" else 0.0
        self.tables: dict[str, torch.Tensor] | None = None

    def to(self, device: torch.device) -> "TileNoise":
        """Move the tables to ``device``."""
        self.device = torch.device(device)
        self.sigma_u, self.delta_u = self.sigma_u.to(device), self.delta_u.to(device)
        if self.tables is not None:
            self.tables = {k: v.to(device) for k, v in self.tables.items()}
        return self

    # ------------------------------------------------------------------ the held instance

    @torch.no_grad()
    def draw_instance(self) -> None:
        """Draw one chip: per device (both devices of each pair) step and range factors and
        the drift-exponent spread."""
        d2d = self.options.d2d_fraction * self.scale
        rng = self.options.range_fraction * self.scale
        shape = (2, *self.shape)  # [0]: the device of positive weights, [1]: of negative ones
        t = {"d": (1.0 + d2d * torch.randn(shape, device=self.device)).clamp_(min=0.05),
             "b": (1.0 + rng * torch.randn(shape, device=self.device)).clamp_(min=0.0),
             "z": torch.randn(shape, device=self.device)}
        self.tables = t

    def step(self) -> None:
        """Called at every training step: a fresh instance in ``'step'`` mode."""
        if self.tables is None or self.options.hwat_d2d_hold == "step":
            self.draw_instance()

    # ------------------------------------------------------------------ one step's weight

    @torch.no_grad()
    def deployed(self, w: torch.Tensor) -> torch.Tensor:
        """The weight ``w`` (a tile, any max) as the held chip holds it at the horizon."""
        if self.sigma_u.device != w.device:
            self.to(w.device)
        self.step()
        t, S = self.tables, self.states
        wmax = w.abs().max().clamp(min=1e-12)
        u = w.abs() / wmax * (S - 1)
        pos = w >= 0
        d = torch.where(pos, t["d"][0], t["d"][1])
        n = u.round().clamp_(0, S - 1).long()
        if self.options.programming == "open_loop":
            level = d * self.delta_u[n]
        else:
            top = torch.where(pos, t["b"][0], t["b"][1]) * (S - 1)
            level = torch.minimum((u / d).round_() * d, top)
        active = level + self.sigma_u[n] * torch.randn_like(level)
        idle = self.sigma_u[0] * torch.randn_like(level)
        w0 = active - idle
        wt = self._drifted(level, active, idle, t, pos) if self.horizon_s > 0 else w0
        if self.options.drift_compensation and self.horizon_s > 0:
            wt = wt * (w0.abs().sum() / wt.abs().sum().clamp(min=1e-12))
        return torch.where(pos, wt, -wt) * (wmax / (S - 1))

    def _drifted(self, level, active, idle, t, pos) -> torch.Tensor:
        if self.options.drift == "wan2022":
            return self._wan2022(level)
        return self._measured(active, idle, t, pos)

    def _measured(self, active, idle, t, pos) -> torch.Tensor:
        """Both devices under memlab's drift law at the horizon, in state units."""
        b, drift = self.branch, self.branch.drift
        g_act = b.g_start_uS + b.direction * active * b.step_uS  # absolute µS
        g_idle = b.g_start_uS + b.direction * idle * b.step_uS
        z_act = torch.where(pos, t["z"][0], t["z"][1])
        z_idle = torch.where(pos, t["z"][1], t["z"][0])
        out = []
        for g, z in ((g_act, z_act), (g_idle, z_idle)):
            g_c = g.clamp(drift.g_lo_uS, drift.g_hi_uS) if drift.g_hi_uS > drift.g_lo_uS else g
            nu = drift.nu_mean + drift.nu_slope_per_uS * (g_c - drift.g_ref_uS) + drift.nu_spread * self.scale * z
            g = g * (1.0 + self.horizon_s / drift.t0_s) ** (-nu)
            if drift.read_noise_uS > 0:
                g = g + drift.read_noise_uS * self.scale * torch.randn_like(g)
            out.append(g.clamp_(min=0.0))
        return b.direction * (out[0] - out[1]) / b.step_uS

    def _wan2022(self, level) -> torch.Tensor:
        """aihwkit's ReRamWan2022NoiseModel at the horizon, in state units: both devices' states
        are replaced by their noise-free programmed level + σ(t) (the C2C draw is replaced, as
        in the deployment simulation)."""
        b = self.branch
        out = []
        for x in (level, torch.zeros_like(level)):
            g = b.g_start_uS + x * b.step_uS  # the converter's frame, µS
            out.append((self.model.wan2022_state(g, self.horizon_s) - b.g_start_uS) / b.step_uS)
        return out[0] - out[1]

    def describe(self) -> dict[str, Any]:
        """What this tile's training noise is, for a results file."""
        o = self.options
        return {"noise": "device", "d2d_hold": o.hwat_d2d_hold, "d2d_fraction": o.d2d_fraction,
                "range_fraction": o.range_fraction, "programming": o.programming,
                "sigma_per_state_uS": list(self.branch.sigma_uS), "drift": o.drift,
                "drift_horizon_s": self.horizon_s, "drift_compensation": o.drift_compensation,
                "noise_scale": self.scale}


def straight_through(w: torch.Tensor, deployed: torch.Tensor) -> torch.Tensor:
    """``deployed`` in the forward pass, the gradient of ``w`` in the backward pass."""
    return w + (deployed - w.detach())
