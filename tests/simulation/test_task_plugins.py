"""Tasks are plug-ins: the registry is the package's modules, loaded on demand."""

import subprocess
import sys

import pytest

from memlab.errors import ConfigError
from memlab.simulation.tasks import Task, get_task, task_names


def test_every_module_is_a_task_named_after_it():
    assert task_names() == ["cifar10", "digits", "mnist"]
    for name in ("digits", "mnist"):
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name


def test_the_other_tasks_do_not_load_the_cifar_code():
    code = ("import sys; from memlab.simulation.tasks import get_task; get_task('digits'); get_task('mnist'); "
            "print('memlab.simulation.cifar10' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unknown_task_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown task 'imagenet'; known: cifar10, digits, mnist"):
        get_task("imagenet")
