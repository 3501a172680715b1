"""The reference paper's published numbers, each with the figure or passage it comes from.

The paper is ``shared/reference/paper.txt`` (HfOxSy/HfS2 memristors, MNIST and
CIFAR-10 on AIHWKIT). Every value is typed here once, as the paper prints it
(``value`` in ``unit``; :attr:`Published.si` converts), and every place that
compares memlab's numbers with the paper's reads it from here. These are the
paper's numbers, never memlab's results.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PAPER = "shared/reference/paper.txt"

_SI_DIVISOR = {"": 1, "uS": 10**6, "nJ": 10**9, "%": 100, "epochs": 1}


@dataclass(frozen=True)
class Published:
    """One number as the paper prints it.

    value: in ``unit`` ("uS", "nJ", "%", "epochs" or "" for a plain number);
    source: where in the paper (figure, panel or section);
    std: the ± the paper gives with it, same unit (None: none given);
    bound: "=" a reported value, "<" an upper bound ("< 3 %").
    """

    value: float
    unit: str
    source: str
    std: float | None = None
    bound: str = "="

    def __post_init__(self) -> None:
        if self.unit not in _SI_DIVISOR:
            raise ValueError(f"unit={self.unit!r}: one of {sorted(_SI_DIVISOR)}")
        if self.bound not in ("=", "<"):
            raise ValueError(f"bound={self.bound!r}: '=' or '<'")

    @property
    def si(self) -> float:
        """The value in SI units (S, J, a fraction for %)."""
        return _si(self.value, self.unit)

    @property
    def std_si(self) -> float | None:
        return None if self.std is None else _si(self.std, self.unit)


def _si(value: float, unit: str) -> float:
    # in decimal, so 87.51 % is 0.8751 and 81.077 uS is 8.1077e-05, not their nearest neighbours
    return float(Decimal(repr(value)) / _SI_DIVISOR[unit])


# --- the device (section 2, Fig. 2)
N_BINS = Published(31, "", "Fig. 2e: 31 bins (unique G+ - G-)")
STATES_PER_BRANCH = Published(16, "", "Fig. 2e: 31 bins = 2 x 16 states - 1")
BIN_WIDTH_UP = Published(81.077, "uS", "section 2, Fig. 2e: average bin width, potentiation")
BIN_WIDTH_DOWN = Published(80.520, "uS", "section 2, Fig. 2e: average bin width, depression")
SIGMA_MEAN = Published(23.700, "uS", "Fig. 2f: mean cycle-to-cycle sigma of a state")
R2_UP = Published(0.99898, "", "section 2, Fig. 2e: R^2 of the linear fit, potentiation")
R2_DOWN = Published(0.99925, "", "section 2, Fig. 2e: R^2 of the linear fit, depression")
ENERGY_PER_CYCLE = Published(23.74, "nJ", "section 2: programming energy per cycle, mean of 10 cycles", std=1.26)
DRIFT_MAX = Published(3, "%", "section 3 (ref 16): conductance drift over the measured span", bound="<")
D2D_ASSUMED = Published(30, "%", "section 3 (refs 24-25): assumed device-to-device variation")

# --- MNIST (Fig. 3)
MNIST_DIGITAL_ACCURACY = Published(98.07, "%", "section 3: digital MLP 784-500-10 after 30 epochs")
MNIST_ANALOG_ACCURACY = Published(98.00, "%", "section 3, Fig. 3b: analog, 5 repeats")
MNIST_EPOCHS = Published(30, "epochs", "section 3: digital training")
MNIST_HWAT_EPOCHS = Published(5, "epochs", "section 3: hardware-aware training")

# --- CIFAR-10 (Fig. 5)
CIFAR10_DIGITAL_ACCURACY = Published(87.51, "%", "section 4, Fig. 5a: digital ResNet after 200 epochs")
CIFAR10_ANALOG_ACCURACY = Published(86.80, "%", "section 4, Fig. 5c-d: analog after 20 HWAT epochs, with global drift compensation")
CIFAR10_EPOCHS = Published(200, "epochs", "section 4: digital training")
CIFAR10_HWAT_EPOCHS = Published(20, "epochs", "section 4: hardware-aware training")

ACCURACY = {"mnist": (MNIST_DIGITAL_ACCURACY, MNIST_ANALOG_ACCURACY),
            "cifar10": (CIFAR10_DIGITAL_ACCURACY, CIFAR10_ANALOG_ACCURACY)}
"""task -> (digital, analog) accuracy the paper reports; tasks it does not report are absent."""


def all_values() -> dict[str, Published]:
    """Every published value of this module by name."""
    return {k: v for k, v in globals().items() if isinstance(v, Published)}
