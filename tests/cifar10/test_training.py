"""Training pieces: the schedule, the budgeted loop, BatchNorm carry-over, evaluation sizing."""

import math
import time

import pytest
import torch

from memlab.simulation.cifar10 import (TrainSettings, WarmupCosine, build_network, digital_optimizer,
                                       evaluate, train_epoch)
from memlab.simulation.cifar10_data import AugmentParams
from memlab.simulation.stages import Clock, _non_analog_state, _split_hwat
from memlab.simulation.tasks.cifar10 import train_network

NO_AUGMENT = AugmentParams(flip_probability=0.0, max_rotation_deg=0.0, rotation_fraction=0.0,
                           max_shift_px=0)
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n,), generator=g))


def test_warmup_then_cosine_to_zero():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosine(opt, peak_lr=0.4, warmup_steps=4, total_steps=14)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(14):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:4] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert lrs[9] == pytest.approx(0.2)  # half-way through the cosine
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))


def test_schedule_total_set_later_holds_peak_until_then():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosine(opt, peak_lr=0.5, warmup_steps=0)
    for _ in range(5):
        sched.step()
    assert sched.lr() == 0.5
    sched.set_total(10)
    assert sched.lr() == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))


def test_network_learns_a_simple_rule():
    """Honest learning check: the class sets one of 10 brightness levels of a noisy image."""
    torch.manual_seed(0)
    noise, _ = _images(64)
    y = torch.arange(64) % 10
    x = (noise // 4 + (y * 20).view(-1, 1, 1, 1)).to(torch.uint8)
    net = build_network(seed=0)
    settings = TrainSettings(batch_size=16, lr=0.05, weight_decay=0.0, augment=NO_AUGMENT)
    opt = digital_optimizer(net, settings)
    gen = torch.Generator().manual_seed(1)
    for _ in range(25):  # 15 epochs ended at 0.39-0.50 depending on the CPU's kernels: too close to the bar
        train_epoch(net, x, y, opt, None, mean=MEAN, std=STD, settings=settings, generator=gen)
    assert evaluate(net, x, y, mean=MEAN, std=STD, batch_size=64) > 0.4  # chance: 0.1


class _BatchClock:
    """A fake ``time.perf_counter`` that advances only when the model trains on a batch, so the
    budget arithmetic is tested exactly, free of the shared CPU's wall clock."""

    def __init__(self, model, seconds_per_batch):
        self.now, self.per_batch = 1000.0, seconds_per_batch
        model.register_forward_hook(lambda *_: self._tick())

    def _tick(self):
        self.now += self.per_batch() if callable(self.per_batch) else self.per_batch

    def __call__(self):
        return self.now


def _tiny():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))


def _budgeted(monkeypatch, seconds_per_batch, *, max_epochs=10_000, budget_s=4.0):
    x, y = _images(32)
    net = _tiny()
    monkeypatch.setattr(time, "perf_counter", _BatchClock(net, seconds_per_batch))
    settings = TrainSettings(batch_size=16, augment=NO_AUGMENT)  # 2 batches an epoch
    return train_network(net, digital_optimizer(net, settings), x, y, mean=MEAN, std=STD, settings=settings,
                         peak_lr=0.05, max_epochs=max_epochs, warmup_epochs=1, budget_s=budget_s, amp=False,
                         generator=torch.Generator().manual_seed(0), progress=False, log=lambda s: None)


def test_budget_plans_the_epochs_that_fit_and_anneals_at_the_last(monkeypatch):
    # 0.5 s an epoch, 4 s budget: after epoch 1, 1 + floor(3.5 / 0.5) = 8 epochs; epoch 2 confirms 8
    out = _budgeted(monkeypatch, 0.25)
    assert (out["epochs_run"], out["epochs_planned"], out["stopped"]) == (8, 8, None)
    assert len(out["history"]) == 8 and out["history"][-1]["elapsed_s"] == pytest.approx(4.0)
    assert out["history"][-1]["lr_end"] == pytest.approx(0.0, abs=1e-12)  # the cosine ends at epoch 8
    assert out["history"][3]["lr_end"] > 0.01
    assert out["epochs_requested"] == 10_000 and out["budget_s"] == 4.0


def test_budget_never_exceeds_the_requested_epochs(monkeypatch):
    out = _budgeted(monkeypatch, 0.25, max_epochs=5)
    assert (out["epochs_run"], out["epochs_planned"], out["stopped"]) == (5, 5, None)
    assert out["history"][-1]["lr_end"] == pytest.approx(0.0, abs=1e-12)


def test_epochs_that_slow_down_stop_over_budget_and_say_so(monkeypatch):
    batches = iter(range(10_000))
    # epochs 1-2 at 0.5 s (8 planned), then 2 s each: 1 + 2 + 2 = 5 s > 1.15 x 4 s after epoch 4
    out = _budgeted(monkeypatch, lambda: 0.25 if next(batches) < 4 else 1.0)
    assert (out["epochs_run"], out["epochs_planned"]) == (4, 8)
    assert out["stopped"] == "over budget after epoch 4"


def test_without_budget_all_epochs_run_with_test_accuracy():
    x, y = _images(32)
    net = build_network(seed=0)
    settings = TrainSettings(batch_size=16)
    out = train_network(net, digital_optimizer(net, settings), x, y, mean=MEAN, std=STD, settings=settings,
                        peak_lr=0.05, max_epochs=3, warmup_epochs=1, budget_s=None, amp=False,
                        generator=torch.Generator().manual_seed(0), test=lambda: 0.5, eval_every=2,
                        progress=False, log=lambda s: None)
    assert out["epochs_run"] == 3 and out["stopped"] is None
    assert ["test_accuracy" in r for r in out["history"]] == [False, True, True]


def test_batchnorm_state_is_carried_from_the_trained_copy():
    digital = build_network(seed=0, arch="v1-2026-11")  # the widths this test reads
    trained = build_network(seed=1, arch="v1-2026-11")
    bn = trained.features[1].upper[1]
    bn.running_mean.fill_(3.0)
    bn.weight.data.fill_(2.0)
    _, out = _split_hwat(_non_analog_state(trained), digital)
    assert torch.equal(out.features[1].upper[1].running_mean, torch.full((32,), 3.0))
    assert torch.equal(out.features[1].upper[1].weight, torch.full((32,), 2.0))
    # conv weights stay the digital ones; the original is untouched
    assert torch.equal(out.features[0].lower.weight, digital.features[0].lower.weight)
    assert not torch.equal(digital.features[1].upper[1].running_mean, torch.full((32,), 3.0))


@pytest.mark.parametrize("left,cost,wanted,expected", [(None, 5.0, 3, 3), (100.0, 10.0, 3, 3),
                                                       (25.0, 10.0, 3, 2), (5.0, 10.0, 3, 0),
                                                       (-1.0, 10.0, 3, 0)])
def test_repeats_shrink_to_the_time_left(left, cost, wanted, expected, monkeypatch):
    clock = Clock(None)
    monkeypatch.setattr(clock, "left", lambda: left)
    assert clock.fit(cost, wanted) == expected
