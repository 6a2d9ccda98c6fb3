"""CIFAR-10 loading, the assignments' standard split, and a synthetic stand-in dataset.

A *given* module (courses hand it to students as ``data_utils.py``): it imports nothing from the
solution modules, so the grader may place it inside a student's sandbox.

Two sources of data, one dict layout:

* :func:`get_CIFAR10_data` reads the official "python version" batches (variants.md §1.5).
* :func:`write_synthetic_cifar10` writes a small, learnable, *synthetic* dataset in that same
  official on-disk format, and :func:`synthetic_dataset` returns one in memory, so that tests,
  examples and the grader's training checks never need the real data.

Security note: :func:`load_CIFAR_batch` unpickles, because the official format *is* a pickle. It is
only ever pointed at dataset files (the course's CIFAR-10 download or files written by
:func:`write_synthetic_cifar10`), never at anything a student produced; student output crosses the
trust boundary as ``.npz`` loaded with ``allow_pickle=False`` (see ``grader.child``).
"""

from __future__ import annotations

import colorsys
import os
import pickle
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CIFAR_DIR_ENV",
    "NUM_CLASSES",
    "get_CIFAR10_data",
    "load_CIFAR10",
    "load_CIFAR_batch",
    "resolve_cifar10_dir",
    "synthetic_dataset",
    "write_synthetic_cifar10",
]

CIFAR_DIR_ENV = "NNGRADER_DATA"
"""Environment variable naming the CIFAR-10 directory (or its parent): the grader's own
(``grader.accuracy.data.DATA_ENV``), so one variable serves both."""

NUM_CLASSES = 10
_BATCH_DIR = "cifar-10-batches-py"
_TRAIN_BATCHES = tuple(f"data_batch_{b}" for b in range(1, 6))
_IMAGE_SHAPE = (3, 32, 32)
# Synthetic-image knobs, in pixel units (0..255) and radians. Tuned so that a 100-unit two-layer
# net trained 5 epochs on 2000 images reaches about 70 % (32x32) / 40 % (8x8) validation accuracy:
# far above chance (10 %) yet with room to improve, so training checks stay informative.
_HUE_JITTER = 0.1  # std of the per-image hue shift; class hues are 0.1 apart
_ANGLE_JITTER = 0.3  # std of the grating angle; class angles are pi/10 apart
_PHASE_JITTER = 2.0  # std of the grating phase
_COLOUR_AMP = 80.0
_GRATING_AMP = 30.0
_BRIGHTNESS_STD = 25.0
_NOISE_STD = 40.0

Dataset = dict[str, NDArray[np.float64] | NDArray[np.int64]]


# --------------------------------------------------------------------------------------------
# Loading the official format


def load_CIFAR_batch(path: str | os.PathLike[str]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Load one CIFAR-10 batch file.

    Parameters
    ----------
    path : path-like
        A ``data_batch_*`` or ``test_batch`` pickle (dataset files only; see the module note).

    Returns
    -------
    X : ndarray, shape (n, 32, 32, 3)
        Images in NHWC order as float64 (0..255), as the course starters return them.
    y : ndarray, shape (n,)
        Integer labels in 0..9.

    Notes
    -----
    Each row of ``b"data"`` holds the R, G and B planes (1024 bytes each, row-major), so a row
    reshapes to (3, 32, 32) and is transposed to (32, 32, 3).
    """
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # noqa: S301 -- dataset files only
    raw = np.asarray(batch[b"data"])
    X = raw.reshape(raw.shape[0], *_IMAGE_SHAPE).transpose(0, 2, 3, 1).astype(np.float64)
    y = np.asarray(batch[b"labels"], dtype=np.int64)
    return X, y


def load_CIFAR10(
    root: str | os.PathLike[str],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Load all five training batches and the test batch from ``root``.

    Parameters
    ----------
    root : path-like
        Directory holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch``.

    Returns
    -------
    X_train : ndarray, shape (N_train, 32, 32, 3)
        The concatenated training batches (50000 images for the real data), float64.
    y_train : ndarray, shape (N_train,)
        Their labels.
    X_test : ndarray, shape (N_test, 32, 32, 3)
        The test batch, float64.
    y_test : ndarray, shape (N_test,)
        Its labels.
    """
    parts = [load_CIFAR_batch(Path(root, name)) for name in _TRAIN_BATCHES]
    X_train = np.concatenate([X for X, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    X_test, y_test = load_CIFAR_batch(Path(root, "test_batch"))
    return X_train, y_train, X_test, y_test


def resolve_cifar10_dir(cifar10_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find the directory that holds the batch files.

    Parameters
    ----------
    cifar10_dir : path-like or None
        The batch directory itself or its parent (containing ``cifar-10-batches-py``). ``None``
        means the value of the ``NNGRADER_DATA`` environment variable.

    Returns
    -------
    pathlib.Path
        A directory containing ``data_batch_1``.

    Raises
    ------
    FileNotFoundError
        If no directory was given or the candidates hold no ``data_batch_1``; the message names
        every place looked at.
    """
    if cifar10_dir is None:
        env = os.environ.get(CIFAR_DIR_ENV)
        if not env:
            raise FileNotFoundError(
                f"no CIFAR-10 directory given and ${CIFAR_DIR_ENV} is not set; pass cifar10_dir= "
                f"or set {CIFAR_DIR_ENV} to the '{_BATCH_DIR}' directory (or its parent)"
            )
        cifar10_dir = env
    candidates = (Path(cifar10_dir), Path(cifar10_dir, _BATCH_DIR))
    for candidate in candidates:
        if (candidate / _TRAIN_BATCHES[0]).is_file():
            return candidate
    looked = ", ".join(str(c / _TRAIN_BATCHES[0]) for c in candidates)
    raise FileNotFoundError(f"CIFAR-10 batches not found; looked for {looked}")


# --------------------------------------------------------------------------------------------
# The standard split and preprocessing


def _split(
    X_train: NDArray[np.float64],
    y_train: NDArray[np.int64],
    X_test: NDArray[np.float64],
    y_test: NDArray[np.int64],
    num_training: int,
    num_validation: int,
    num_test: int,
    subtract_mean: bool,
) -> Dataset:
    """Split NHWC arrays, subtract the training mean image, return NCHW arrays (see below)."""
    for name, value in (
        ("num_training", num_training),
        ("num_validation", num_validation),
        ("num_test", num_test),
    ):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    total = X_train.shape[0]
    if num_training + num_validation > total:
        raise ValueError(
            f"num_training + num_validation = {num_training + num_validation} exceeds the "
            f"{total} training images available"
        )
    if num_test > X_test.shape[0]:
        raise ValueError(f"num_test = {num_test} exceeds the {X_test.shape[0]} test images")
    # The starters' split (get_CIFAR10_data: mask = range(num_training, num_training +
    # num_validation)): validation directly follows the training images, so with the defaults it
    # is images 49000-49999 and with smaller sizes it moves down with num_training.
    val = slice(num_training, num_training + num_validation)
    out_X = {
        "X_train": X_train[:num_training],
        "X_val": X_train[val],
        "X_test": X_test[:num_test],
    }
    if subtract_mean:
        if num_training == 0:
            raise ValueError("subtract_mean needs num_training >= 1")
        mean_image = np.mean(out_X["X_train"], axis=0)
        out_X = {k: v - mean_image for k, v in out_X.items()}
    return {
        "X_train": np.ascontiguousarray(out_X["X_train"].transpose(0, 3, 1, 2)),
        "y_train": y_train[:num_training].copy(),
        "X_val": np.ascontiguousarray(out_X["X_val"].transpose(0, 3, 1, 2)),
        "y_val": y_train[val].copy(),
        "X_test": np.ascontiguousarray(out_X["X_test"].transpose(0, 3, 1, 2)),
        "y_test": y_test[:num_test].copy(),
    }


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    cifar10_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load CIFAR-10 and apply the assignments' standard split and preprocessing.

    Parameters
    ----------
    num_training : int
        Training images kept: training images ``0 … num_training - 1``.
    num_validation : int
        Validation images: the training images that follow, ``num_training … num_training +
        num_validation - 1`` (49000…49999 by default).
    num_test : int
        Test images: the first ``num_test`` images of ``test_batch``.
    subtract_mean : bool
        Subtract the mean image of the (kept) training split from all three splits.
    cifar10_dir : path-like or None
        See :func:`resolve_cifar10_dir` (default: ``$NNGRADER_DATA``).

    Returns
    -------
    dict
        ``X_train`` (num_training, 3, 32, 32), ``y_train`` (num_training,), ``X_val``
        (num_validation, 3, 32, 32), ``y_val``, ``X_test`` (num_test, 3, 32, 32), ``y_test``;
        images float64, labels int64.

    Raises
    ------
    FileNotFoundError
        If the batches cannot be found.
    ValueError
        If the requested sizes exceed the data.

    Notes
    -----
    This is the starters' split (variants.md §1.5) for every size: train = images
    0…num_training-1, val = images num_training…num_training+num_validation-1, test = the first
    num_test test images (with the defaults 0…48999, 49000…49999 and 0…999), and
    :math:`X \\leftarrow X - \\frac{1}{N_{train}}\\sum_i X^{train}_i` on every split.
    """
    root = resolve_cifar10_dir(cifar10_dir)
    X_train, y_train, X_test, y_test = load_CIFAR10(root)
    return _split(
        X_train, y_train, X_test, y_test, num_training, num_validation, num_test, subtract_mean
    )


# --------------------------------------------------------------------------------------------
# Synthetic data


def _synthetic_images(
    n: int, rng: np.random.Generator, image_shape: tuple[int, int, int]
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """``n`` balanced, shuffled labelled images (n, C, H, W) uint8 (see the notes below).

    Class k has a colour of hue k/10 and a sinusoidal grating at angle k·pi/10 with
    1, 1.5 or 2 cycles across the image. Each image jitters hue, grating angle and phase and
    adds brightness and pixel noise. The nuisances are structured (they do not average out over
    pixels), so accuracy stays well below 100 % even at 32x32 and is informative.
    """
    C, H, W = image_shape
    labels = rng.permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)
    hue = (labels / NUM_CLASSES + rng.normal(0.0, _HUE_JITTER, n)) % 1.0
    rgb = np.array([colorsys.hsv_to_rgb(h, 0.7, 1.0) for h in hue]).reshape(n, 3) - 0.5
    theta = np.pi * labels / NUM_CLASSES + rng.normal(0.0, _ANGLE_JITTER, n)
    phase = rng.normal(0.0, _PHASE_JITTER, n)
    cycles = 1.0 + (labels % 3) * 0.5
    yy, xx = np.meshgrid(np.linspace(-0.5, 0.5, H), np.linspace(-0.5, 0.5, W), indexing="ij")
    proj = xx[None] * np.cos(theta)[:, None, None] + yy[None] * np.sin(theta)[:, None, None]
    grating = np.sin(2 * np.pi * cycles[:, None, None] * proj + phase[:, None, None])
    colour = rgb[:, np.arange(C) % 3]
    images = (
        128.0
        + _COLOUR_AMP * colour[:, :, None, None]
        + _GRATING_AMP * grating[:, None]
        + rng.normal(0.0, _BRIGHTNESS_STD, size=(n, 1, 1, 1))
        + rng.normal(0.0, _NOISE_STD, size=(n, C, H, W))
    )
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), labels


def synthetic_dataset(
    num_train: int,
    num_val: int,
    num_test: int,
    seed: int = 0,
    image_shape: tuple[int, int, int] = _IMAGE_SHAPE,
) -> Dataset:
    """A synthetic dataset in memory, laid out and preprocessed like :func:`get_CIFAR10_data`.

    Parameters
    ----------
    num_train, num_val, num_test : int
        Sizes of the three splits.
    seed : int
        Seed of the ``np.random.Generator`` that draws the images (the global RNG is untouched).
    image_shape : tuple of int
        ``(C, H, W)``; ``(3, 32, 32)`` matches CIFAR-10, smaller shapes (e.g. ``(3, 8, 8)``) make
        training checks cheap.

    Returns
    -------
    dict
        ``X_train`` (num_train, C, H, W), ``y_train`` (num_train,), ``X_val`` (num_val, C, H, W),
        ``y_val``, ``X_test`` (num_test, C, H, W), ``y_test``; images float64 with the training
        mean image subtracted, labels int64 in 0..9 (balanced within each split).

    Notes
    -----
    Class :math:`k` is a colour of hue :math:`k/10` plus a sinusoidal grating at angle
    :math:`k\\pi/10`; every image jitters hue, angle and phase and adds brightness and pixel
    noise, then is rounded to uint8 like a real image. The classes are learnable but not
    trivially: a 100-unit two-layer net trained 5 epochs on 2000 images reaches about 70 %
    validation accuracy at 32x32 and 40 % at 8x8 (chance: 10 %).
    """
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
    train_rng, val_rng, test_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    splits = [
        _synthetic_images(n, r, image_shape)
        for n, r in ((num_train, train_rng), (num_val, val_rng), (num_test, test_rng))
    ]
    # Reuse the CIFAR split code: train then val back to back, as in the training batches.
    X_trainval = np.concatenate([splits[0][0], splits[1][0]]).transpose(0, 2, 3, 1)
    y_trainval = np.concatenate([splits[0][1], splits[1][1]])
    X_test = splits[2][0].transpose(0, 2, 3, 1)
    return _split(
        X_trainval.astype(np.float64),
        y_trainval,
        X_test.astype(np.float64),
        splits[2][1],
        num_train,
        num_val,
        num_test,
        subtract_mean=True,
    )


# --------------------------------------------------------------------------------------------
# Writing the official format


def _p2_str(b: bytes) -> bytes:
    """A Python 2 ``str`` (loads as bytes with encoding="bytes", as str with "latin1")."""
    if len(b) < 256:
        return pickle.SHORT_BINSTRING + bytes([len(b)]) + b
    return pickle.BINSTRING + struct.pack("<i", len(b)) + b


def _p2_int(v: int) -> bytes:
    if 0 <= v < 256:
        return pickle.BININT1 + bytes([v])
    if 0 <= v < 65536:
        return pickle.BININT2 + struct.pack("<H", v)
    return pickle.BININT + struct.pack("<i", v)


def _p2_tuple(*items: bytes) -> bytes:
    return pickle.MARK + b"".join(items) + pickle.TUPLE


def _p2_list(items: list[bytes]) -> bytes:
    return pickle.EMPTY_LIST + (pickle.MARK + b"".join(items) + pickle.APPENDS if items else b"")


def _p2_uint8_array(a: NDArray[np.uint8]) -> bytes:
    """The opcodes Python 2 numpy emitted for a C-ordered uint8 array (CIFAR's ``data``)."""
    dtype_u1 = (
        pickle.GLOBAL
        + b"numpy\ndtype\n"
        + _p2_tuple(_p2_str(b"u1"), pickle.NEWFALSE, pickle.NEWTRUE)
        + pickle.REDUCE
        + _p2_tuple(
            _p2_int(3),
            _p2_str(b"|"),
            pickle.NONE,
            pickle.NONE,
            pickle.NONE,
            _p2_int(-1),
            _p2_int(-1),
            _p2_int(0),
        )
        + pickle.BUILD
    )
    return (
        pickle.GLOBAL
        + b"numpy.core.multiarray\n_reconstruct\n"
        + _p2_tuple(pickle.GLOBAL + b"numpy\nndarray\n", _p2_tuple(_p2_int(0)), _p2_str(b"b"))
        + pickle.REDUCE
        + _p2_tuple(
            _p2_int(1),
            _p2_tuple(*(_p2_int(d) for d in a.shape)),
            dtype_u1,
            pickle.NEWFALSE,
            _p2_str(np.ascontiguousarray(a).tobytes()),
        )
        + pickle.BUILD
    )


def _p2_dict(items: list[tuple[bytes, bytes]]) -> bytes:
    """A protocol-2 pickle of a dict whose keys are Python 2 strings, as the official files."""
    body = b"".join(_p2_str(k) + v for k, v in items)
    return (
        pickle.PROTO
        + b"\x02"
        + pickle.EMPTY_DICT
        + pickle.MARK
        + body
        + pickle.SETITEMS
        + pickle.STOP
    )


def write_synthetic_cifar10(
    directory: str | os.PathLike[str],
    *,
    images_per_batch: int = 200,
    num_test: int = 200,
    seed: int = 0,
) -> Path:
    """Write a small synthetic dataset in the official CIFAR-10 "python version" format.

    Parameters
    ----------
    directory : path-like
        Where to write ``data_batch_1`` … ``data_batch_5``, ``test_batch`` and ``batches.meta``
        (created if missing). Pass it to :func:`get_CIFAR10_data` as ``cifar10_dir``.
    images_per_batch : int
        Images in each training batch (5 x this in total; the real data has 10000).
    num_test : int
        Images in ``test_batch``.
    seed : int
        Seed of the ``np.random.Generator`` (one independent stream per batch file).

    Returns
    -------
    pathlib.Path
        ``directory``.

    Notes
    -----
    Each batch is a protocol-2 pickle of ``{"data": uint8 (n, 3072), "labels": list of int,
    "batch_label": str, "filenames": list of str}`` written as Python 2 ``str`` keys, exactly
    like the official files: it loads with ``pickle.load(f, encoding="bytes")`` (bytes keys, as
    here) and with ``encoding="latin1"`` (str keys, as the 2017+ CS231n starters load it). Rows of
    ``data`` hold the R, G, B planes. The images are drawn as in :func:`synthetic_dataset`;
    labels are balanced within each batch.
    """
    if images_per_batch < 1 or num_test < 1:
        raise ValueError("images_per_batch and num_test must be >= 1")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    files = [
        (name, images_per_batch, f"training batch {i + 1} of 5", "train")
        for i, name in enumerate(_TRAIN_BATCHES)
    ]
    files.append(("test_batch", num_test, "testing batch 1 of 1", "test"))
    for (name, n, batch_label, kind), rng in zip(files, rngs, strict=True):
        images, labels = _synthetic_images(n, rng, _IMAGE_SHAPE)
        filenames = [
            f"synthetic_{kind}_{name}_{i:05d}_class{int(k)}.png".encode()
            for i, k in enumerate(labels)
        ]
        blob = _p2_dict(
            [
                (b"batch_label", _p2_str(batch_label.encode())),
                (b"labels", _p2_list([_p2_int(int(k)) for k in labels])),
                (b"data", _p2_uint8_array(images.reshape(n, -1))),
                (b"filenames", _p2_list([_p2_str(f) for f in filenames])),
            ]
        )
        (out / name).write_bytes(blob)
    meta = _p2_dict(
        [
            (b"num_cases_per_batch", _p2_int(images_per_batch)),
            (
                b"label_names",
                _p2_list([_p2_str(f"synthetic_{k}".encode()) for k in range(NUM_CLASSES)]),
            ),
            (b"num_vis", _p2_int(int(np.prod(_IMAGE_SHAPE)))),
        ]
    )
    (out / "batches.meta").write_bytes(meta)
    return out
