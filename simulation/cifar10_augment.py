"""CIFAR-10 batches: normalisation (train and test) and training augmentation, on the batch's device.

The paper's Fig. 4 caption: "augmented with random horizontal flips, rotations,
normalisation, resizes and crops". Read here as the usual CIFAR-10 recipe with
one pixel path for training and test images:

* normalisation with the training set's per-channel mean and std, the only step
  a test image gets (:func:`normalise`);
* crops: pad 4 px with the mean colour (zero after normalisation), crop 32×32 at
  an integer offset, i.e. an exact shift of whole pixels;
* flips: an exact left-right mirror with probability 0.5;
* rotations: a stated fraction of each batch (25 %) is rotated by at most ±5°,
  bilinearly; the other images are never resampled (the previous augmentation
  resampled every training image through one affine warp with random scale,
  so no training image was as sharp as a test image);
* resizes: the images are already the network's 32×32, so resizing, on train and
  test alike, is the identity; there is no random rescaling.

The paper gives no angles or fractions; 25 % and ±5° are ours ("small rotations").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from memlab.errors import ConfigError


def normalise(images: torch.Tensor, mean, std, dtype=torch.float32) -> torch.Tensor:
    """uint8 (B, 3, H, W) → float, per-channel ``(x/255 - mean) / std``."""
    m = torch.tensor(mean, device=images.device, dtype=dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=images.device, dtype=dtype).view(1, 3, 1, 1)
    return (images.to(dtype) / 255.0 - m) / s


@dataclass(frozen=True)
class AugmentParams:
    """Random augmentation of the paper's Fig. 4 caption ("random horizontal flips,
    rotations, normalisation, resizes and crops"), read so that training and test
    images go through the same pixel path (see :func:`augment`).

    flip_probability: chance of an exact left-right mirror.
    max_shift_px: the crop of the usual pad-and-crop: pad this many pixels on every
        side with the mean colour, crop 32×32 at a random *integer* offset, so a
        shift is an exact roll of pixels (no interpolation).
    rotation_fraction / max_rotation_deg: that fraction of each batch (drawn per
        image) is rotated by a uniform angle in ±``max_rotation_deg``, bilinearly;
        the rest is never resampled.
    "Resizes" are not random rescaling here: CIFAR-10 images are already the 32×32
    the network takes, so resizing to 32×32, on train and test alike, is the identity.
    """

    flip_probability: float = 0.5
    max_shift_px: int = 4
    rotation_fraction: float = 0.25
    max_rotation_deg: float = 5.0

    def __post_init__(self) -> None:
        for name in ("flip_probability", "rotation_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} must lie in [0, 1]")
        if not 0.0 <= self.max_rotation_deg <= 45.0:
            raise ConfigError(f"max_rotation_deg={self.max_rotation_deg} must lie in [0, 45]")
        if (isinstance(self.max_shift_px, bool) or not isinstance(self.max_shift_px, int)
                or not 0 <= self.max_shift_px <= 16):
            raise ConfigError(f"max_shift_px={self.max_shift_px!r} must be an integer in [0, 16] "
                              "(pixels: crops are integer shifts)")


NO_AUGMENT = AugmentParams(flip_probability=0.0, max_shift_px=0, rotation_fraction=0.0,
                           max_rotation_deg=0.0)


def augment(x: torch.Tensor, generator: torch.Generator,
            params: AugmentParams = AugmentParams()) -> torch.Tensor:
    """Randomly rotate (a fraction), flip and pad-and-crop a normalised float batch (B, 3, H, W).

    Runs on the batch's device; ``generator`` (on the same device) makes it
    reproducible, and the same number of draws is made whatever ``params`` say,
    so switching one augmentation off leaves the others' draws alone. The input
    is already normalised (:func:`normalise`), so the zero fill is the mean colour.
    Flips and crops move whole pixels: an image that is not rotated comes out
    as an exact, integer-shifted (and perhaps mirrored) copy of its pixels, as a
    test image is seen unshifted, so train and test share one pixel path.
    """
    b, dev = x.shape[0], x.device
    rotate = torch.rand(b, device=dev, generator=generator) < params.rotation_fraction
    angle = (2 * torch.rand(b, device=dev, generator=generator) - 1) * math.radians(params.max_rotation_deg)
    flip = torch.rand(b, device=dev, generator=generator) < params.flip_probability
    span = 2 * params.max_shift_px + 1  # integer offsets -max..max, equally likely
    shift = (torch.rand(2, b, device=dev, generator=generator) * span).long().clamp(max=span - 1) \
        - params.max_shift_px
    out = x
    if bool(rotate.any()) and params.max_rotation_deg > 0:
        out = out.clone()
        out[rotate] = _rotate(x[rotate], angle[rotate])
    out = torch.where(flip.view(-1, 1, 1, 1), out.flip(-1), out)
    if params.max_shift_px:
        out = _shift(out, shift[0], shift[1], params.max_shift_px)
    return out


def _rotate(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Bilinear rotation of each image by ``angle`` (radians) about its centre, zero (mean) fill."""
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], dim=1),
                         torch.stack([sin, cos, zero], dim=1)], dim=1).to(x.dtype)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                           align_corners=False)


def _shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad every image by ``pad`` zero (mean) pixels and crop H×W at offset (pad + dy, pad + dx):
    the content moves by (-dy, -dx) whole pixels. Index arithmetic only: the values are copied."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (pad + dy).view(b, 1, 1) + torch.arange(h, device=x.device).view(1, h, 1)
    cols = (pad + dx).view(b, 1, 1) + torch.arange(w, device=x.device).view(1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()
