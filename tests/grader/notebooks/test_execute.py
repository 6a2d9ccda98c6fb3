"""Executing a notebook in the sandbox (``grader.notebooks.execute``), end to end.

One small notebook, written as a student's would be: a Colab cell, the submission's own module
imported from beside the notebook, a cell that raises, a cell that outlives its time limit, the
training batches of ``--data`` loaded the course's way, and a tiny net trained on synthetic data.
Executed with ``--execute``'s machinery, the error and the timeout are reported and every other
cell still runs; the trained net's arrays come out of the kernel as a validated model.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.notebooks.client import Budget
from grader.notebooks.execute import Executed, Plan, execute_notebook
from grader.sandbox import Limits, available_modes

pytestmark = pytest.mark.sandbox

TINY_NET = '''
import numpy as np


class TinyNet:
    """Softmax over one hidden ReLU layer, with the course's params layout."""

    def __init__(self, dims, hidden, classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.normal(0, 1e-2, (dims, hidden)), "b1": np.zeros(hidden),
            "W2": rng.normal(0, 1e-2, (hidden, classes)), "b2": np.zeros(classes),
        }
        self.normalization = None

    def step(self, X, y, lr=0.5):
        p = self.params
        h = np.maximum(X @ p["W1"] + p["b1"], 0)
        s = h @ p["W2"] + p["b2"]
        e = np.exp(s - s.max(1, keepdims=True))
        probs = e / e.sum(1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        ds = probs / len(y)
        dh = (ds @ p["W2"].T) * (h > 0)
        p["W2"] -= lr * h.T @ ds
        p["b2"] -= lr * ds.sum(0)
        p["W1"] -= lr * X.T @ dh
        p["b1"] -= lr * dh.sum(0)

    def accuracy(self, X, y):
        p = self.params
        return float(((np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"]).argmax(1) == y).mean())
'''

CELLS = [
    "from google.colab import drive\ndrive.mount('/content/drive')\n%cd /content/drive/cs231n\n"
    "!bash get_datasets.sh",
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nimport numpy as np\n"
    "from mynet import TinyNet",
    "1 / 0",
    "import time\nwhile True:\n    time.sleep(0.1)",
    "import os, pickle\nfolder = 'cs231n/datasets/cifar-10-batches-py'\n"
    "with open(os.path.join(folder, 'data_batch_1'), 'rb') as f:\n"
    "    batch = pickle.load(f, encoding='latin1')\n"
    "print('rows', len(batch['labels']), 'test held out:', "
    "not pickle.load(open(os.path.join(folder, 'test_batch'), 'rb'))['data'].any())",
    "rng = np.random.default_rng(1)\ncenters = rng.normal(0, 1, (10, 3072))\n"
    "y = rng.integers(0, 10, 200)\nX = centers[y] + rng.normal(0, 0.5, (200, 3072))\n"
    "best_model = TinyNet(3072, 16, 10)\nfor _ in range(30):\n    best_model.step(X, y, 0.05)\n"
    "print('train accuracy', best_model.accuracy(X, y))",
]


def write_submission(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "mynet.py").write_text(TINY_NET)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.cells[2].metadata["tags"] = ["raises-exception"]  # a student's tag decides nothing
    path = root / "Tiny.ipynb"
    nbformat.write(nb, path)
    return path


def write_batches(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "test_batch"):
        batch = {"labels": [3] * 20, "data": np.full((20, 3072), 7, np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        (folder / name).chmod(0o644)
    return folder


MODES = [
    "process",
    pytest.param(
        "bwrap", marks=pytest.mark.skipif(available_modes()["bwrap"] is not None, reason="no bwrap")
    ),
]


@pytest.fixture(scope="module", params=MODES)
def executed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Executed:
    """The notebook executed once per mode (each run takes a few seconds: a kernel starts)."""
    if os.geteuid() != 0:
        pytest.skip("the kernel's sockets are shared through scratch as root")
    tmp_path = tmp_path_factory.mktemp(f"execute-{request.param}")
    for folder in (tmp_path, *tmp_path.parents):
        if folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o011)  # the sandbox uid walks to its folders
    path = write_submission(tmp_path / "submission")
    return execute_notebook(
        path,
        name="Tiny.ipynb",
        workdir=tmp_path / "work",
        isolation=request.param,
        limits=Limits(),
        # Generous: the endless cell waits for it, and no other cell may come near it.
        budget=Budget(cell_seconds=15, notebook_seconds=300),
        plan=Plan(model_variable="best_model"),
        data=write_batches(tmp_path / "data"),
    )


def test_errors_and_timeouts_are_reported_and_the_rest_runs(executed: Executed) -> None:
    statuses = [(c.index, c.status) for c in executed.cells]
    assert statuses == [(1, "ok"), (2, "ok"), (3, "error"), (4, "timeout"), (5, "ok"), (6, "ok")], (
        executed.cells,
        executed.kernel_log[-3000:],
    )
    assert executed.cells[2].message.startswith("ZeroDivisionError")
    assert "per-cell time limit" in executed.cells[3].message
    nb = nbformat.reads(executed.notebook, as_version=4)
    printed = "".join(o.get("text", "") for o in nb.cells[4].outputs)
    assert "rows 20 test held out: True" in printed
    assert "train accuracy" in "".join(o.get("text", "") for o in nb.cells[5].outputs)


def test_colab_lines_are_neutralised(executed: Executed) -> None:
    nb = json.loads(executed.notebook)
    source = "".join(nb["cells"][0]["source"])
    assert "pass  # nngrader: Colab only: drive.mount('/content/drive')" in source
    assert any("cell 1: neutralised" in n for n in executed.notes)
    assert "Tiny.ipynb" in executed.html or "<html" in executed.html


def test_the_trained_model_is_read_out_of_the_kernel(executed: Executed) -> None:
    assert executed.model_problem == ""
    assert executed.model is not None
    assert executed.model.normalization == "none"
    assert executed.model.hidden_dims == (16,)
    assert sorted(executed.model.params) == ["W1", "W2", "b1", "b2"]
    # The kernel's net learned something: its arrays are not the initial ones.
    assert np.abs(executed.model.params["b2"]).max() > 0


def test_the_kernels_model_is_measured_by_the_grader(executed: Executed, tmp_path: Path) -> None:
    """The model read out of the kernel is data: the accuracy stage measures it on splits the
    kernel never saw (the synthetic test split included) and grades the measure."""
    from grader.accuracy import data
    from grader.accuracy.check import NotebookModel, grade_rules
    from grader.checks.oracle import LiveOracle
    from grader.spec import FinalAccuracy
    from reference.data import write_synthetic_cifar10

    def no_course(path: Path) -> None:
        raise AssertionError(f"no course file expected, got {path}")

    folder = write_synthetic_cifar10(tmp_path / "cifar", images_per_batch=300, num_test=400, seed=3)
    (tmp_path / "submission").mkdir()  # no model file: the notebook is the only source
    accuracy = grade_rules(
        [FinalAccuracy(lower=32, upper=60, points=10, part="p")],
        tmp_path / "submission",
        data.load(folder),
        oracle=LiveOracle(),
        open_course=no_course,  # type: ignore[arg-type]
        notebook=NotebookModel(model=executed.model),
    )
    (outcome,) = accuracy.outcomes
    assert accuracy.extra is not None and accuracy.extra["source"] == "notebook"
    assert 0 <= accuracy.extra["val"] <= 1 and 0 <= accuracy.extra["test"] <= 1
    assert outcome.credit is not None and "measured" in outcome.message
