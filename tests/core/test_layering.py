"""The layering of memlab, read from the source: every import, including those inside functions.

The table (docs/INTERFACES.md, "Layers and imports"):

    instruments -> protocols -> analysis -> simulation

A layer imports only itself and the layer just left of it: protocols drive
instruments; analysis reads runs through protocols' reader and talks to no
instrument; simulation reads device files (analysis) and no HDF5 run
(shared/design/ARCHITECTURE.md, "must not").

* foundation: every module of ``memlab/`` not listed as an application module
  (errors, status, reference, files, flags, config, report's HTML helpers, the
  package root); it may be imported from everywhere and imports no layer;
* application: the CLI (``memlab.cli``, ``memlab.commands``) and the modules that
  drive the whole path (``memlab.api``, ``memlab.demo``, ``memlab.watch``); they
  may import everything, and nothing but the application imports them;
* torch only in ``simulation`` (and the application), aihwkit only in the subpackage
  ``memlab.simulation.analog`` (not even the application: the rest of memlab speaks in
  device-file terms and calls that subpackage), click only in the application (the CLI's
  options live with the CLI).

Besides ``import``/``from ... import`` statements anywhere in a file (resolved
relative imports included), a string constant that is exactly a module's name
counts as an import of it (``importlib.import_module`` tables such as the lazy
task registry).
"""

from __future__ import annotations

import ast
import pathlib
import sys
import tomllib
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

LAYERS = ("instruments", "protocols", "analysis", "simulation")
MAY_IMPORT = {"instruments": (), "protocols": ("instruments",), "analysis": ("protocols",),
              "simulation": ("analysis",)}
APPLICATION = ("memlab.cli", "memlab.commands", "memlab.api", "memlab.demo", "memlab.watch")
AIHWKIT_BOUNDARY = "memlab.simulation.analog"
# third-party package -> the modules (names or package prefixes) that alone may import it
RESTRICTED = {"torch": ("memlab.simulation", *APPLICATION), "torchvision": ("memlab.simulation", *APPLICATION),
              "aihwkit": (AIHWKIT_BOUNDARY,), "click": APPLICATION}
# (importer, imported) -> why this one arrow against the table is allowed
ALLOWED = {
    ("memlab", "memlab.api"): "the package root's lazy __getattr__: memlab.<name> loads the API on first use",
    ("memlab", "memlab.simulation.bridge"): "the same lazy __getattr__ for the aihwkit bridge (memlab.convert_to_analog)",
}


@dataclass(frozen=True)
class Arrow:
    importer: str
    imported: str
    path: pathlib.Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def source_modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Module name -> file, for every .py under the package-dir mapping of ``root/pyproject.toml``."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    modules = {}
    for package, folder in mapping.items():
        if package.count(".") > 1:  # a sub-mapping inside a layer: walked with its parent
            continue
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root / folder).with_suffix("").parts
            parts = [package, *rel]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module or ""
        # ``from memlab import api`` imports the module memlab.api, ``from memlab import __version__`` the package
        return [f"{name}.{a.name}" if f"{name}.{a.name}" in known else name for a in node.names]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
        return [node.value]
    return []


def imports(root: pathlib.Path) -> list[Arrow]:
    """Every import of every module of the package (module-level or not), resolved to module names."""
    modules = source_modules(root)
    known = set(modules)
    arrows = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            for target in _targets(node, module, path.name == "__init__.py", known):
                arrows.append(Arrow(module, target, path.relative_to(root), getattr(node, "lineno", 0)))
    return arrows


def place(module: str) -> tuple[str, int]:
    """("layer", index) | ("foundation", -1) | ("application", 99) | ("external", 0) of a module name."""
    parts = module.split(".")
    if parts[0] != "memlab":
        return "external", 0
    if len(parts) > 1 and parts[1] in LAYERS:
        return "layer", LAYERS.index(parts[1])
    if any(module == a or module.startswith(a + ".") for a in APPLICATION):
        return "application", 99
    return "foundation", -1


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def wrong_arrows(arrows: list[Arrow]) -> list[str]:
    """The arrows against the table, each with the reason."""
    bad = []
    for a in arrows:
        if (a.importer, a.imported) in ALLOWED:
            continue
        kind, rank = place(a.importer)
        target_kind, target_rank = place(a.imported)
        if target_kind == "external":
            top = a.imported.split(".")[0]
            allowed = RESTRICTED.get(top)
            if allowed is not None and not within(a.importer, allowed):
                names = [p for p in allowed if p not in APPLICATION] + ["the application"] * (APPLICATION[0] in allowed)
                bad.append(f"{a} (only {' and '.join(names)} may import {top})")
            continue
        if kind == "application":
            continue
        if target_kind == "application":
            bad.append(f"{a} (only the application imports {a.imported})")
        elif target_kind == "layer" and kind == "foundation":
            bad.append(f"{a} (a foundation module imports no layer)")
        elif target_kind == "layer" and target_rank != rank and LAYERS[target_rank] not in MAY_IMPORT[LAYERS[rank]]:
            allowed = ", ".join(MAY_IMPORT[LAYERS[rank]]) or "no other layer"
            bad.append(f"{a} ({LAYERS[rank]} may import {allowed})")
    return bad


def test_the_package_follows_the_table():
    arrows = imports(REPO)
    internal = [a for a in arrows if a.imported.startswith("memlab")]
    # the scan sees what it should: many arrows, function-level ones included
    assert len(internal) > 300
    assert any(a.importer == "memlab.watch" and a.imported == "memlab.protocols.archive" for a in internal)
    assert any(a.importer == "memlab.simulation.tasks.cifar10" and a.imported == "memlab.simulation.cifar10"
               for a in internal)  # a nested package
    assert wrong_arrows(arrows) == []


def test_the_allowed_exceptions_are_still_needed():
    arrows = {(a.importer, a.imported) for a in imports(REPO)}
    assert set(ALLOWED) <= arrows, "an exception in ALLOWED is no longer used: remove it"


def test_analysis_imports_no_instruments():
    assert not [a for a in imports(REPO) if a.importer.startswith("memlab.analysis.")
                and a.imported.startswith("memlab.instruments")]


def _tree(tmp_path: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackage-dir = { "memlab" = "memlab", "memlab.instruments" = "instruments", '
        '"memlab.protocols" = "protocols", "memlab.analysis" = "analysis", "memlab.simulation" = "simulation" }\n')
    base = {"memlab/__init__.py": "", "memlab/errors.py": "", "memlab/cli.py": "import memlab.simulation.b\n",
            "instruments/__init__.py": "", "instruments/a.py": "from memlab.errors import X\n",
            "protocols/__init__.py": "", "protocols/p.py": "from memlab.instruments.a import f\n",
            "analysis/__init__.py": "", "simulation/__init__.py": "",
            "simulation/b.py": "import torch\nfrom memlab.analysis import c\n", "analysis/c.py": "",
            "simulation/analog/__init__.py": "from aihwkit.nn import AnalogLinear\n",
            "simulation/analog/noise.py": "def f():\n    import aihwkit.inference\n",
            "memlab/commands/__init__.py": "", "memlab/commands/run.py": "import click\nimport torch\n"}
    for name, text in {**base, **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_clean_synthetic_tree_passes(tmp_path):
    assert wrong_arrows(imports(_tree(tmp_path, {}))) == []


WRONG = {
    "analysis/c.py": "def f():\n    from memlab.instruments.a import g\n",  # function-level import
    "instruments/a.py": "from ..protocols import p\n",  # relative, leaving the layer
    "protocols/p.py": "import memlab.simulation.b\n",
    "memlab/errors.py": "from memlab.analysis.c import x\n",  # foundation importing a layer
    "memlab/status.py": "from memlab import cli\n",  # the application imported from below
    "analysis/d.py": "import importlib\nM = 'memlab.simulation.b'\n",  # a lazy import by name
    "protocols/q.py": "from aihwkit.simulator import tiles\n",
    "simulation/e.py": "from memlab.protocols.p import read_run\n",  # skipping a layer
    "simulation/f.py": "import click\n",  # CLI options inside a layer
    "simulation/g.py": "def f():\n    from aihwkit.nn import AnalogLinear\n",  # aihwkit outside its subpackage
    "simulation/analogue.py": "import aihwkit\n",  # a name that only starts like the subpackage's
    "memlab/commands/train.py": "import aihwkit.optim\n",  # not even the application
    "analysis/h.py": "import torch\n",
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_a_wrong_arrow_fails(tmp_path, name):
    """The test of the test: each way of drawing an arrow the wrong way is caught, and named."""
    bad = wrong_arrows(imports(_tree(tmp_path, {name: WRONG[name]})))
    assert len(bad) == 1 and bad[0].startswith(name), bad


def _group(module: str) -> str:
    kind, rank = place(module)
    if kind == "layer":
        return LAYERS[rank]
    if kind == "foundation":
        return "foundation"
    return "cli" if module == "memlab.cli" or module.startswith("memlab.commands") else module


if __name__ == "__main__":  # print the import table of the package: python tests/core/test_layering.py
    table: dict[tuple[str, str], int] = {}
    for a in imports(REPO):
        if place(a.imported)[0] != "external" and _group(a.importer) != _group(a.imported):
            key = (_group(a.importer), _group(a.imported))
            table[key] = table.get(key, 0) + 1
    for (src, dst), n in sorted(table.items()):
        print(f"{src:<14} -> {dst:<14} {n}")
    sys.exit(0)
