"""Time to evaluate a 6-layer model on 10,000 test images, against the bare matrix products.

The model is the issue's: hidden 600-500-400-300-200-100, batchnorm, float32 (what the course's
FullyConnectedNet trains in), random parameters. ``evaluate`` is ``grader.accuracy.evaluate
.measure`` on the whole test split (preprocessing, the reference forward pass in batches of
``BATCH_ROWS``, the argmax); ``floor`` is the same run's bare matrix products of the same shapes
on already preprocessed float32 input, which no evaluation can beat. Both are measured interleaved
(round robin) so that machine load affects them alike; medians and their ratio are printed.

    python bench/evaluate_model.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

import numpy as np  # noqa: E402

from grader.accuracy.artifact import from_arrays  # noqa: E402 - needs the sys.path insert
from grader.accuracy.data import Split  # noqa: E402
from grader.accuracy.evaluate import BATCH_ROWS, measure  # noqa: E402
from grader.checks.oracle import LiveOracle  # noqa: E402

HIDDEN = (600, 500, 400, 300, 200, 100)
N = 10_000


def model_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    dims = [3072, *HIDDEN, 10]
    out: dict[str, np.ndarray] = {}
    for i in range(1, len(dims)):
        out[f"W{i}"] = rng.normal(0, 1e-2, (dims[i - 1], dims[i])).astype(np.float32)
        out[f"b{i}"] = np.zeros(dims[i], np.float32)
        if i < len(dims) - 1:
            for name, value in (
                ("gamma", 1.0),
                ("beta", 0.0),
                ("running_mean", 0.0),
                ("running_var", 1.0),
            ):
                out[f"{name}{i}"] = np.full(dims[i], value, np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = from_arrays(model_arrays(rng), "batchnorm")
    split = Split(rng.integers(0, 256, (N, 3072), dtype=np.uint8), rng.integers(0, 10, N))
    mean = split.images.mean(axis=0)
    x = split.images.astype(np.float32) - mean.astype(np.float32)
    weights = [model.params[f"W{i}"] for i in range(1, len(HIDDEN) + 2)]
    times: dict[str, list[float]] = {"evaluate": [], "floor": []}
    for _ in range(args.runs):
        start = time.perf_counter()
        measure(model, split, mean, LiveOracle())
        times["evaluate"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for row in range(0, N, BATCH_ROWS):
            out = x[row : row + BATCH_ROWS]
            for w in weights:
                out = out @ w
        times["floor"].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{N} images, hidden {'-'.join(map(str, HIDDEN))}, batchnorm, float32, {args.runs} runs")
    for name, value in med.items():
        print(f"  {name:<9} {value:.3f} s")
    print(f"  ratio     {med['evaluate'] / med['floor']:.2f}x the bare matrix products")


if __name__ == "__main__":
    main()
