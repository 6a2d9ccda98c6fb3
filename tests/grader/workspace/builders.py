"""Submissions of the courses without a bundled example, built from the bundled ones.

Each builder copies a bundled correct example into a tmp folder and changes only what its starter
facts change (the spec file's comments cite them): the package name, a function set, a default, a
sign of the dropout convention. The built folders then stand for real submissions of those
homeworks in the detection and grading tests.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from tests.grader.planting import COURSES


def drop_defs(path: Path, *names: str) -> None:
    """Remove top-level functions or classes ``names`` from a module (found with ``ast``)."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    nodes = [
        n
        for n in ast.parse(text).body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names
    ]
    assert {n.name for n in nodes} == set(names), names
    for node in sorted(nodes, key=lambda n: -n.lineno):
        assert node.end_lineno is not None
        del lines[node.lineno - 1 : node.end_lineno]
    path.write_text("".join(lines))


def edit(path: Path, *pairs: tuple[str, str]) -> None:
    text = path.read_text()
    for old, new in pairs:
        assert old in text, f"{old!r} not in {path}"
        text = text.replace(old, new)
    path.write_text(text)


def c147_hw3(dest: Path) -> Path:
    """UCLA C147 HW3: nndl/ with affine/ReLU layers, both nets, and sgd only (no BN, dropout)."""
    shutil.copytree(COURSES["ucla-c147-2022"], dest)
    layers = dest / "nndl" / "layers.py"
    drop_defs(
        layers,
        "batchnorm_forward",
        "batchnorm_backward",
        "dropout_forward",
        "dropout_backward",
    )
    optim = dest / "nndl" / "optim.py"
    drop_defs(optim, "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")
    (dest / "FC_nets.ipynb").write_text("{}")
    # The starter's package imports all its modules, the monolithic two-layer net among them,
    # which imports matplotlib (the spec's [runtime] cites the lines): the sandbox must offer it.
    (dest / "nndl" / "__init__.py").write_text(
        "from .fc_net import *\nfrom .layer_utils import *\nfrom .neural_net import *\n"
        "from .optim import *\n"
    )
    (dest / "nndl" / "neural_net.py").write_text(
        "import numpy as np\nimport matplotlib.pyplot as plt\n\n\n"
        "class TwoLayerNet(object):\n"
        "    def __init__(self, input_size, hidden_size, output_size, std=1e-4):\n"
        "        self.params = {'W1': std * np.random.randn(input_size, hidden_size)}\n"
    )
    return dest


def c147_2023(dest: Path) -> Path:
    """UCLA C147 W2023 HW4: p keeps (dropout=1 disables; use_dropout = dropout < 1)."""
    shutil.copytree(COURSES["ucla-c147-2022"], dest)
    edit(
        dest / "nndl" / "fc_net.py",
        ("num_classes=10, dropout=0,\n", "num_classes=10, dropout=1,\n"),
        ("self.use_dropout = dropout > 0", "self.use_dropout = dropout < 1"),
    )
    edit(
        dest / "nndl" / "layers.py",
        (
            "# p is the probability of dropping a unit",
            "# We keep each neuron output with probability p",
        ),
        ("(np.random.rand(*x.shape) < (1 - p)) / (1 - p)", "(np.random.rand(*x.shape) < p) / p"),
    )
    return dest


def c147_2024(dest: Path, *, keep_layer: bool) -> Path:
    """UCLA C147 W2024 HW4: the net drops (dropout=0), the docstring says keep; the student's
    layer follows the docstring (``keep_layer``) or the net."""
    shutil.copytree(COURSES["ucla-c147-2022"], dest)
    pairs = [
        (
            "# p is the probability of dropping a unit",
            "# We keep each neuron output with probability p",
        )
    ]
    if keep_layer:
        pairs.append(
            ("(np.random.rand(*x.shape) < (1 - p)) / (1 - p)", "(np.random.rand(*x.shape) < p) / p")
        )
    edit(dest / "nndl" / "layers.py", *pairs)
    return dest


def cs231n_2025_a1(dest: Path) -> Path:
    """CS231n 2025 A1: the A2 example's layers, optim and FullyConnectedNet, plus TwoLayerNet
    (hidden_dim, weight_scale=1e-3) in fc_net.py, as the A1 starter has both nets."""
    shutil.copytree(COURSES["cs231n-2021"], dest)
    cs182 = COURSES["cs182-sp25"] / "deeplearning" / "classifiers" / "fc_net.py"
    two_layer = cs182.read_text()
    two_layer = two_layer[two_layer.index("\n\nclass TwoLayerNet") :]
    fc = dest / "cs231n" / "classifiers" / "fc_net.py"
    fc.write_text(fc.read_text() + two_layer.replace("weight_scale=1e-2", "weight_scale=1e-3"))
    (dest / "two_layer_net.ipynb").write_text("{}")
    return dest


def cs182_sp22(dest: Path) -> Path:
    """CS182 sp22 hw1: the CS231n 2017 example under deeplearning/, with the sp22 starter's
    optimizer signatures (x, dx) and Adam's t default 0."""
    shutil.copytree(COURSES["cs231n-2017"], dest)
    shutil.move(dest / "cs231n", dest / "deeplearning")
    for path in (dest / "deeplearning").rglob("*.py"):
        path.write_text(path.read_text().replace("cs231n", "deeplearning"))
    edit(
        dest / "deeplearning" / "optim.py",
        (
            "def rmsprop(w, dw, config=None):\n",
            "def rmsprop(x, dx, config=None):\n    w, dw = x, dx\n",
        ),
        ("def adam(w, dw, config=None):\n", "def adam(x, dx, config=None):\n    w, dw = x, dx\n"),
        ('config.setdefault("t", 1)', 'config.setdefault("t", 0)'),
    )
    return dest
