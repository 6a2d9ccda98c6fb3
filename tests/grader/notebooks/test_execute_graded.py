"""``nngrader grade --execute --data`` end to end, through the command line.

A cs231n-2021 submission (the bundled correct code) whose ``FullyConnectedNets.ipynb`` trains the
student's own ``FullyConnectedNet`` on a few random rows and leaves it in ``best_model``: the
notebook runs in the sandbox, its executed copy and HTML are written beside ``results.json``, and
the accuracy test measures the kernel's model (no model file was submitted).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from tests.grader.planting import COURSES, skip_without

pytestmark = pytest.mark.sandbox

CELLS = [
    "import numpy as np\nfrom cs231n.classifiers.fc_net import FullyConnectedNet",
    "rng = np.random.default_rng(0)\nX = rng.normal(size=(50, 3072))\ny = rng.integers(0, 10, 50)\n"
    "best_model = FullyConnectedNet([20], weight_scale=1e-2, reg=0.0)\n"
    "for _ in range(5):\n    loss, grads = best_model.loss(X, y)\n"
    "    for k in best_model.params:\n        best_model.params[k] -= 1e-2 * grads[k]\n"
    "print('loss', loss)",
]


def test_grade_execute_measures_the_notebooks_model(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    if os.geteuid() != 0:
        pytest.skip("the kernel's sockets are shared through scratch as root")
    from reference.data import write_synthetic_cifar10

    student = tmp_path / "in" / "student"
    shutil.copytree(COURSES["cs231n-2021"], student)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nbformat.write(notebook, student / "FullyConnectedNets.ipynb")
    cifar = write_synthetic_cifar10(tmp_path / "cifar", images_per_batch=300, num_test=400, seed=3)
    for folder in (tmp_path, *tmp_path.parents):  # the sandbox uid walks to the data it may read
        if folder != Path("/"):
            folder.chmod(folder.stat().st_mode | 0o011)
    out = tmp_path / "out"
    code = main(
        ["grade", str(student), "--out", str(out), "--assignment", "cs231n-2021",
         "--sandbox", "process", "--data", str(cifar), "--execute", "--cell-timeout", "60"]
    )  # fmt: skip
    assert code == 0
    folder = out / "student"
    doc = json.loads((folder / "results.json").read_text())
    assert doc["extra_data"]["accuracy"]["source"] == "notebook"
    assert doc["extra_data"]["accuracy"]["error"] is None
    (summary,) = doc["extra_data"]["executed"]
    assert summary["cells"]["ok"] == 2 and summary["model"] == "read"
    executed = nbformat.reads((folder / "FullyConnectedNets.executed.ipynb").read_text(), 4)
    assert "loss" in "".join(o.get("text", "") for o in executed.cells[1].outputs)
    assert "<html" in (folder / "FullyConnectedNets.executed.html").read_text().lower()
