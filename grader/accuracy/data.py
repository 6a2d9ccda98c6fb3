"""CIFAR-10 for the accuracy grade: the batches, the course's splits and preprocessing, MD5s.

The splits are the starters' (variants.md §1.5): validation = training images 49,000-49,999
(the last 1,000 of ``data_batch_5``); test = all 10,000 images of ``test_batch`` (the starters
take only the first 1,000; the grader measures every one). The preprocessing subtracts the mean
image of the first 49,000 training images. Images stay ``uint8`` (N, 3072) in memory, rows in
the batches' own R, G, B plane order, which is channels-first ``(3, 32, 32)`` flattened; each
evaluation batch becomes float64 only when it is used, so the whole test split never weighs
245 MB at once.

The batches are pickles (the official format). They are the instructor's files, not a student's,
and are still read with an unpickler that resolves only numpy's array reconstruction, so a
planted file cannot run code in the grading process.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATA_ENV",
    "OFFICIAL_MD5",
    "TRAIN_ROWS",
    "Cifar",
    "DataError",
    "Split",
    "load",
    "resolve",
    "verify",
]

DATA_ENV = "NNGRADER_DATA"
"""Environment variable naming the CIFAR-10 folder when ``--data`` is not given."""
OFFICIAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
"""The official ``cifar-10-python.tar.gz`` files (cs.toronto.edu/~kriz/cifar.html)."""
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TRAIN_ROWS = 49_000
"""Training images the mean image is taken over with the real batches: all but the last
``VAL_ROWS``, which are the validation split (smaller synthetic batches keep that rule)."""
VAL_ROWS = 1_000
PIXELS = 3 * 32 * 32
_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class DataError(Exception):
    """The data folder cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Split:
    """One evaluation split: ``images`` uint8 (N, 3072) channels-first rows, ``labels`` (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def batch(self, start: int, stop: int, mean: np.ndarray | None) -> np.ndarray:
        """Rows ``start:stop`` preprocessed: float64 (n, 3, 32, 32), ``mean`` (3072,) subtracted."""
        x = self.images[start:stop].astype(np.float64)
        if mean is not None:
            x -= mean
        return x.reshape(-1, 3, 32, 32)


@dataclass(frozen=True)
class Cifar:
    """What the accuracy grade needs of CIFAR-10."""

    val: Split
    test: Split
    mean: np.ndarray
    """float64 (3072,): the mean image of the first 49,000 training images."""
    folder: Path


def resolve(data: Path | None) -> Path | None:
    """The data folder: ``data``, else ``$NNGRADER_DATA``, else None (accuracy not graded). A
    folder holding ``cifar-10-batches-py`` means that subfolder."""
    if data is None:
        env = os.environ.get(DATA_ENV)
        data = Path(env) if env else None
    if data is not None and (data / "cifar-10-batches-py").is_dir():
        return data / "cifar-10-batches-py"
    return data


def verify(folder: Path) -> dict[str, str]:
    """File name -> ``ok``, ``missing`` or ``differs (md5 ...)`` against the official MD5s."""
    found: dict[str, str] = {}
    for name, md5 in OFFICIAL_MD5.items():
        path = folder / name
        if not path.is_file():
            found[name] = "missing"
            continue
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        got = digest.hexdigest()
        found[name] = "ok" if got == md5 else f"differs (md5 {got}, official {md5})"
    return found


def load(folder: Path) -> Cifar:
    """The splits and mean image of the batches in ``folder`` (cached per process: a batch of
    submissions reads them once).

    Raises:
        DataError: a batch is missing, unreadable, or not 10,000 rows of 3072 bytes.
    """
    folder = folder.resolve()
    stat = [(folder / n).stat().st_mtime_ns if (folder / n).is_file() else 0 for n in OFFICIAL_MD5]
    return _load(folder, tuple(stat))


@functools.lru_cache(maxsize=2)
def _load(folder: Path, _stamp: tuple[int, ...]) -> Cifar:
    parts = [_batch(folder / name) for name in TRAIN_BATCHES]
    images = np.concatenate([x for x, _ in parts])  # uint8: 150 MB for the real 50,000
    labels = np.concatenate([y for _, y in parts])
    train = len(images) - VAL_ROWS  # 49,000 with the real batches
    if train < 1:
        raise DataError(f"{folder}: the training batches hold {len(images)} images, too few")
    # Integer sums are exact: the mean is the float64 np.mean of get_CIFAR10_data, bit for bit.
    mean = images[:train].sum(axis=0, dtype=np.int64) / train
    val = Split(images[train:].copy(), labels[train:].copy())
    return Cifar(val, Split(*_batch(folder / "test_batch")), mean, folder)


def _batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, 3072), labels int64 (n,))`` of one batch file (n = 10,000 for the
    real data)."""
    try:
        with path.open("rb") as f:
            raw = _Unpickler(f, encoding="bytes").load()
        images = np.asarray(raw[b"data"])
        labels = np.asarray(raw[b"labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 batch ({type(exc).__name__}: {exc})") from None
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
        raise DataError(f"{path}: expected rows of {PIXELS} uint8 pixels, got {images.shape}")
    if labels.shape != images.shape[:1] or not len(labels):
        raise DataError(f"{path}: {len(labels)} labels for {len(images)} images")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels outside 0..9")
    return images, labels


class _Unpickler(pickle.Unpickler):
    """Resolves numpy's array reconstruction and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR-10 batch")
        return super().find_class(module, name)
