"""Training augmentation: exact flips, integer pad-and-crop, a stated fraction rotated; the test
path normalises only (train and test images share one pixel path)."""

import pytest
import torch

from memlab.errors import ConfigError
from memlab.simulation import cifar10_augment as ca
from memlab.simulation.cifar10 import build_network, evaluate

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)
NO_ROTATION = dict(rotation_fraction=0.0, max_rotation_deg=0.0)


def _batch(n=6, seed=3):
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The reference crop: output pixel (i, j) is input pixel (i + dy, j + dx), zero outside."""
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    src = img[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
    out[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)] = src
    return out


def _exact_copies(x: torch.Tensor, out: torch.Tensor, max_shift: int) -> list:
    """Per image, the (flip, dy, dx) that reproduces it bit for bit, or None."""
    found = []
    for img, got in zip(x, out):
        match = None
        for flip in (False, True):
            src = img.flip(-1) if flip else img
            for dy in range(-max_shift, max_shift + 1):
                for dx in range(-max_shift, max_shift + 1):
                    if match is None and torch.equal(_shifted(src, dy, dx), got):
                        match = (flip, dy, dx)
        found.append(match)
    return found


def test_no_augmentation_is_the_normalised_batch_exactly():
    x = ca.normalise(_batch(), MEAN, STD)
    assert torch.equal(ca.augment(x, torch.Generator().manual_seed(0), ca.NO_AUGMENT), x)


def test_forced_flip_is_an_exact_mirror():
    x = ca.normalise(_batch(), MEAN, STD)
    params = ca.AugmentParams(flip_probability=1.0, max_shift_px=0, **NO_ROTATION)
    assert torch.equal(ca.augment(x, torch.Generator().manual_seed(0), params), x.flip(-1))


def test_shift_is_an_exact_integer_crop_of_the_mean_padded_image():
    x = ca.normalise(_batch(40), MEAN, STD)
    params = ca.AugmentParams(flip_probability=0.0, max_shift_px=4, **NO_ROTATION)
    found = _exact_copies(x, ca.augment(x, torch.Generator().manual_seed(1), params), 4)
    assert all(m is not None and not m[0] for m in found)  # every image a pixel-exact shift, none mirrored
    shifts = {m[1:] for m in found}
    assert len(shifts) > 10 and {abs(d) for s in shifts for d in s} >= {0, 1, 2, 3}  # random, integer, up to 4


def test_default_augmentation_resamples_only_the_rotated_fraction():
    x = ca.normalise(_batch(200, seed=4), MEAN, STD)
    default = ca.AugmentParams()
    assert (default.rotation_fraction, default.max_rotation_deg, default.max_shift_px) == (0.25, 5.0, 4)
    found = _exact_copies(x, ca.augment(x, torch.Generator().manual_seed(2)), 4)
    resampled = sum(m is None for m in found) / len(found)
    assert 0.15 < resampled < 0.35  # 25 % rotated (binomial sd 3 %), the rest exact pixel copies
    assert {m[0] for m in found if m is not None} == {False, True}  # flips happen, exactly


def test_rotation_is_small_and_centred():
    x = ca.normalise(_batch(8), MEAN, STD)
    params = ca.AugmentParams(flip_probability=0.0, max_shift_px=0, rotation_fraction=1.0, max_rotation_deg=5.0)
    out = ca.augment(x, torch.Generator().manual_seed(3), params)
    assert not any(torch.equal(a, b) for a, b in zip(out, x))  # all rotated
    # ±5° moves the centre pixels little: the centre of a smooth image stays close
    smooth = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2)
    rot = ca.augment(smooth, torch.Generator().manual_seed(3), params)
    centre = (slice(None), slice(None), slice(12, 20), slice(12, 20))
    assert float((rot - smooth)[centre].abs().mean()) < 0.5 * float(smooth[centre].abs().mean())


def test_augmentation_is_seeded_and_random():
    x = ca.normalise(_batch(), MEAN, STD)
    a = ca.augment(x, torch.Generator().manual_seed(5))
    b = ca.augment(x, torch.Generator().manual_seed(5))
    c = ca.augment(x, torch.Generator().manual_seed(6))
    assert a.shape == (6, 3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_switching_one_augmentation_off_keeps_the_others_draws():
    x = ca.normalise(_batch(20), MEAN, STD)
    shift_only = ca.AugmentParams(flip_probability=0.0, max_shift_px=4, **NO_ROTATION)
    shift_flip = ca.AugmentParams(flip_probability=0.5, max_shift_px=4, **NO_ROTATION)
    a = _exact_copies(x, ca.augment(x, torch.Generator().manual_seed(9), shift_only), 4)
    b = _exact_copies(x, ca.augment(x, torch.Generator().manual_seed(9), shift_flip), 4)
    assert [m[1:] for m in a] == [m[1:] for m in b]  # same shifts; flips only added


def test_evaluation_normalises_only(monkeypatch):
    """The test path: normalisation, never the training augmentation."""
    import memlab.simulation.cifar10 as c10

    x, y = _batch(16), torch.arange(16) % 10
    net = build_network(seed=0).eval()
    with torch.no_grad():
        expected = float((net(ca.normalise(x, MEAN, STD)).argmax(1) == y).float().mean())

    def refuse(*args, **kwargs):
        raise AssertionError("evaluation augmented its images")

    monkeypatch.setattr(c10, "augment", refuse)
    monkeypatch.setattr(ca, "augment", refuse)
    assert evaluate(net, x, y, mean=MEAN, std=STD, batch_size=5) == pytest.approx(expected)


@pytest.mark.parametrize("kwargs", [{"flip_probability": 1.5}, {"max_rotation_deg": 90}, {"rotation_fraction": -0.1},
                                    {"max_shift_px": -1}, {"max_shift_px": 2.5}, {"max_shift_px": True}])
def test_bad_augment_params_are_rejected(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        ca.AugmentParams(**kwargs)
