"""scikit-learn's 8x8 digits: the always-available fallback (an MLP 64-128-10; no file needed)."""

from memlab.simulation import datasets
from memlab.simulation.tasks import Task, mlp

TASK = Task(
    name="digits", load=lambda data_dir=None: datasets.load_digits(), build=lambda: mlp((64, 128, 10)),
    epochs=40, hwat_epochs=10, lr=0.05, hwat_lr=0.01, batch_size=32, eval_batch_size=1000,
    quick_epochs=20, quick_hwat_epochs=5, label="scikit-learn 8x8 digits")
