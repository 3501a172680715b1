"""The paper's published values: typed once, as printed, each traceable to the paper's text."""

from __future__ import annotations

import pathlib

import pytest

from memlab import reference as ref

PAPER_TXT = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "paper.txt"

# name -> the text the paper prints it as (checked against paper.txt where it is found)
PRINTED = {
    "N_BINS": "31 bins", "STATES_PER_BRANCH": "31 bins", "BIN_WIDTH_UP": "81.077", "BIN_WIDTH_DOWN": "80.520",
    "SIGMA_MEAN": "23.700", "R2_UP": "0.99898", "R2_DOWN": "0.99925", "ENERGY_PER_CYCLE": "23.74",
    "DRIFT_MAX": "<3\\%", "D2D_ASSUMED": "30% DTOD", "MNIST_DIGITAL_ACCURACY": "98.07%",
    "MNIST_ANALOG_ACCURACY": "98.00%", "MNIST_EPOCHS": "30 epochs", "MNIST_HWAT_EPOCHS": "5 epochs",
    "CIFAR10_DIGITAL_ACCURACY": "87.51%", "CIFAR10_ANALOG_ACCURACY": "86.80%", "CIFAR10_EPOCHS": "200 epochs",
    "CIFAR10_HWAT_EPOCHS": "20 hardware-aware retraining (HWAT) epochs",
}


def test_every_value_has_its_printed_form():
    assert set(ref.all_values()) == set(PRINTED)


@pytest.mark.skipif(not PAPER_TXT.is_file(), reason=f"needs the paper's text at {PAPER_TXT}")
@pytest.mark.parametrize("name", sorted(PRINTED))
def test_the_value_is_the_papers(name):
    text = PAPER_TXT.read_text()
    assert PRINTED[name] in text, f"{name}: {PRINTED[name]!r} is not in the paper"
    if name != "STATES_PER_BRANCH":  # derived: 31 bins = 2 x 16 - 1
        assert float(PRINTED[name].split()[0].strip("<\\%")) == ref.all_values()[name].value


def test_si_conversion():
    assert ref.BIN_WIDTH_UP.si == pytest.approx(81.077e-6, rel=1e-15)
    assert ref.CIFAR10_DIGITAL_ACCURACY.si == 0.8751 and ref.MNIST_ANALOG_ACCURACY.si == 0.98
    assert ref.ENERGY_PER_CYCLE.std_si == pytest.approx(1.26e-9) and ref.SIGMA_MEAN.std_si is None
    assert 2 * ref.STATES_PER_BRANCH.value - 1 == ref.N_BINS.value


def test_bad_unit_is_refused():
    with pytest.raises(ValueError, match="unit='mS'"):
        ref.Published(1.0, "mS", "nowhere")
