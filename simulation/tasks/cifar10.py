"""CIFAR-10 (JPEG copy): the paper's 3-block ResNet (its Fig. 4), 200 digital + 20 HWAT epochs.

The network and its training recipe are :mod:`memlab.simulation.cifar10`, its data
:mod:`memlab.simulation.cifar10_data`; this module registers the task (imported only
when the task is asked for, so the other tasks never load the CIFAR code).
"""

from memlab.simulation.cifar10 import TASK

__all__ = ["TASK"]
