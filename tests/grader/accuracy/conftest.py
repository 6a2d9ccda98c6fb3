"""Shared fixtures: model files the tests make themselves, and a small synthetic CIFAR folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from grader.accuracy import data

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "cifar-10-batches-py"


def random_net(
    hidden: tuple[int, ...] = (20, 15), normalization: str = "none", seed: int = 0
) -> dict[str, np.ndarray]:
    """A small random net in the nngrader format's names (without ``normalization``)."""
    rng = np.random.default_rng(seed)
    dims = [3072, *hidden, 10]
    arrays: dict[str, np.ndarray] = {}
    for i in range(1, len(dims)):
        arrays[f"W{i}"] = rng.normal(0, 1e-3, (dims[i - 1], dims[i]))
        arrays[f"b{i}"] = rng.normal(0, 1e-2, dims[i])
        if i < len(dims) - 1 and normalization != "none":
            arrays[f"gamma{i}"] = 1 + rng.normal(0, 0.1, dims[i])
            arrays[f"beta{i}"] = rng.normal(0, 0.1, dims[i])
            if normalization == "batchnorm":
                arrays[f"running_mean{i}"] = rng.normal(0, 0.1, dims[i])
                arrays[f"running_var{i}"] = rng.uniform(0.5, 2, dims[i])
    return arrays


def save_model(path: Path, arrays: dict[str, np.ndarray], normalization: str = "none") -> Path:
    """The one line students paste, as a test writes it."""
    np.savez(path, normalization=np.array(normalization), **arrays)
    return path


@pytest.fixture(scope="session")
def synthetic_cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official on-disk format, small: 5 x 300 training images, 400 test images."""
    from reference.data import write_synthetic_cifar10

    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    return write_synthetic_cifar10(folder, images_per_batch=300, num_test=400, seed=3)


@pytest.fixture(scope="session")
def real_cifar() -> Path:
    """The near-CIFAR of /work/shared (or ``$NNGRADER_DATA``); skipped where absent."""
    folder = data.resolve(Path(os.environ[data.DATA_ENV])) if data.DATA_ENV in os.environ else REAL
    if folder is None or not (folder / "data_batch_1").is_file():
        pytest.skip(f"no CIFAR-10 batches at {folder} (set {data.DATA_ENV})")
    return folder
