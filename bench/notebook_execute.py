"""Time to execute one seed-shaped notebook: nngrader (sandboxed) against nbclient alone.

The notebook is shaped like the seeds (``/work/shared/seeds``): a Colab cell (mount, ``%cd``,
``!bash get_datasets.sh``), the setup cell (``%matplotlib inline``, ``%load_ext autoreload``),
the submission's own module imported, a small fully connected net trained on synthetic data, a
plot and printed accuracies. Each run executes it with:

    nbclient   nbclient alone, no sandbox, the machine's python3 kernel (the baseline); the
               Colab lines neutralised the same way, so that both run the same cells
    nngrader   ``grader.notebooks.execute.execute_notebook`` in bwrap (kernel sandboxed, ipc
               sockets, model read out of the kernel, HTML rendered)
    nbgrader   nbgrader's ``Execute`` preprocessor (what ``nbgrader autograde`` runs the notebook
               with), from a scratch venv (``--venv``, where nbgrader is pip-installed)

The modes run interleaved, rotated each round, and medians are printed with ratios against the
nbclient baseline of the same run.

    python bench/notebook_execute.py [--runs 5] [--venv /tmp/nbbench-venv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader.notebooks.client import Budget  # noqa: E402
from grader.notebooks.execute import Plan, execute_notebook  # noqa: E402
from grader.notebooks.neutralize import prepare  # noqa: E402
from grader.sandbox import Limits  # noqa: E402

NET = """
import numpy as np


def train(X, y, hidden=64, epochs=20, lr=0.1, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0, 1e-2, (X.shape[1], hidden)); b1 = np.zeros(hidden)
    W2 = rng.normal(0, 1e-2, (hidden, 10)); b2 = np.zeros(10)
    for _ in range(epochs):
        h = np.maximum(X @ W1 + b1, 0); s = h @ W2 + b2
        p = np.exp(s - s.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1; ds = p / len(y); dh = ds @ W2.T * (h > 0)
        W2 -= lr * h.T @ ds; b2 -= lr * ds.sum(0); W1 -= lr * X.T @ dh; b1 -= lr * dh.sum(0)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
"""
CELLS = [
    "from google.colab import drive\ndrive.mount('/content/drive')\nFOLDERNAME = 'x'\n"
    "%cd /content/drive/My\\ Drive/$FOLDERNAME/cs231n/datasets/\n!bash get_datasets.sh",
    "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nimport numpy as np\n"
    "import matplotlib.pyplot as plt\nfrom net import train",
    "rng = np.random.default_rng(1)\ncenters = rng.normal(0, 1, (10, 3072))\n"
    "y = rng.integers(0, 10, 1000)\nX = centers[y] + rng.normal(0, 2.0, (1000, 3072))\n"
    "params = train(X[:900], y[:900])",
    "class Net:\n    pass\nbest_model = Net()\nbest_model.params = params\n"
    "h = np.maximum(X[900:] @ params['W1'] + params['b1'], 0)\n"
    "print('Validation set accuracy: ', ((h @ params['W2']).argmax(1) == y[900:]).mean())",
    "plt.plot(np.arange(10)); plt.title('loss'); plt.show()",
]


def make_notebook(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "net.py").write_text(NET)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    path = folder / "FullyConnectedNets.ipynb"
    nbformat.write(nb, path)
    return path


def baseline_copy(path: Path) -> Path:
    """The notebook with the Colab lines neutralised (what every mode runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared, _ = prepare(nbformat.read(path, as_version=4))
    out = path.with_name("prepared.ipynb")
    nbformat.write(prepared, out)
    return out


def run_nbclient(path: Path) -> float:
    code = (
        "import nbformat, nbclient, sys; nb = nbformat.read(sys.argv[1], as_version=4); "
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3', allow_errors=True, "
        "resources={'metadata': {'path': sys.argv[2]}}).execute()"
    )
    start = time.perf_counter()
    argv = [sys.executable, "-c", code, str(path), str(path.parent)]
    subprocess.run(argv, check=True)  # noqa: S603 - our own interpreter and notebook
    return time.perf_counter() - start


def run_nngrader(path: Path, work: Path) -> float:
    start = time.perf_counter()
    done = execute_notebook(
        path,
        name=path.name,
        workdir=work,
        isolation="bwrap",
        limits=Limits(),
        budget=Budget(cell_seconds=600, notebook_seconds=1200),
        plan=Plan(model_variable=None),
    )
    seconds = time.perf_counter() - start
    bad = [c for c in done.cells if c.status != "ok"]
    if bad or not done.html:
        raise SystemExit(f"nngrader run failed: {bad} {done.notes}")
    return seconds


def run_nbgrader(path: Path, venv: Path) -> float:
    code = (
        "import nbformat, sys; from nbgrader.preprocessors import Execute; "
        "nb = nbformat.read(sys.argv[1], as_version=4); "
        "Execute().preprocess(nb, {'metadata': {'path': sys.argv[2]}})"
    )
    start = time.perf_counter()
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    python = str(venv / "bin" / "python")
    argv = [python, "-c", code, str(path), str(path.parent)]
    subprocess.run(argv, check=True, env=env)  # noqa: S603 - the scratch venv's interpreter
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/nbbench-venv"))  # noqa: S108
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nngrader-bench-nb-"))
    tmp.chmod(0o711)  # the sandbox uid walks to its scratch folder
    path = make_notebook(tmp / "submission")
    prepared = baseline_copy(path)
    modes: dict[str, Callable[[int], float]] = {
        "nbclient": lambda i: run_nbclient(prepared),
        "nngrader": lambda i: run_nngrader(path, tmp / f"work{i}"),
    }
    if (args.venv / "bin" / "python").exists():
        modes["nbgrader"] = lambda i: run_nbgrader(prepared, args.venv)
    times: dict[str, list[float]] = {m: [] for m in modes}
    names = list(modes)
    for i in range(args.runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(modes[name](i))
    base = statistics.median(times["nbclient"])
    print(f"one seed-shaped notebook ({len(CELLS)} code cells), median of {args.runs} runs")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<9} {median:6.2f} s   x{median / base:4.2f}   (min {min(values):.2f} s)")


if __name__ == "__main__":
    main()
