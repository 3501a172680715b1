"""MNIST: the paper's MLP 784-500-10 (its Fig. 3a), 30 digital + 5 HWAT epochs by default."""

from memlab import reference as ref
from memlab.simulation import datasets
from memlab.simulation.tasks import Task, mlp

TASK = Task(
    name="mnist", load=datasets.load_mnist, build=lambda: mlp((784, 500, 10)),
    epochs=int(ref.MNIST_EPOCHS.value), hwat_epochs=int(ref.MNIST_HWAT_EPOCHS.value), lr=0.05, hwat_lr=0.01,
    batch_size=128, eval_batch_size=1000, quick_epochs=3, quick_hwat_epochs=1, label="MNIST")
