"""CIFAR-10 loading, the standard split, and the synthetic dataset (reference.data)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import reference.data
from reference.data import (
    CIFAR_DIR_ENV,
    get_CIFAR10_data,
    load_CIFAR10,
    load_CIFAR_batch,
    resolve_cifar10_dir,
    synthetic_dataset,
    write_synthetic_cifar10,
)

PER_BATCH, NUM_TEST = 40, 30
TOTAL_TRAIN = 5 * PER_BATCH
BATCH_FILES = [f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_cifar10(
        tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py",
        images_per_batch=PER_BATCH,
        num_test=NUM_TEST,
        seed=0,
    )


def _raw(path: Path, encoding: str = "bytes") -> dict[object, object]:
    with open(path, "rb") as f:
        loaded: dict[object, object] = pickle.load(f, encoding=encoding)  # noqa: S301 -- our file
    return loaded


# ------------------------------------------------------------------ the official on-disk format


def test_writes_the_official_file_set(synth_dir: Path) -> None:
    assert sorted(p.name for p in synth_dir.iterdir()) == sorted([*BATCH_FILES, "batches.meta"])


@pytest.mark.parametrize("name", BATCH_FILES)
def test_batch_file_has_official_keys_and_types(synth_dir: Path, name: str) -> None:
    batch = _raw(synth_dir / name)
    n = NUM_TEST if name == "test_batch" else PER_BATCH
    assert set(batch) == {b"data", b"labels", b"batch_label", b"filenames"}
    data = batch[b"data"]
    assert isinstance(data, np.ndarray)
    assert data.dtype == np.uint8 and data.shape == (n, 3072) and data.flags.c_contiguous
    labels = batch[b"labels"]
    assert isinstance(labels, list) and len(labels) == n
    assert all(type(k) is int and 0 <= k < 10 for k in labels)
    assert isinstance(batch[b"batch_label"], bytes)
    filenames = batch[b"filenames"]
    assert isinstance(filenames, list) and len(set(filenames)) == n
    assert all(isinstance(f, bytes) for f in filenames)


def test_latin1_loading_gives_str_keys_like_the_original(synth_dir: Path) -> None:
    # The 2017+ CS231n starters load with encoding="latin1" and index with str keys.
    as_bytes, as_latin1 = (
        _raw(synth_dir / "data_batch_2"),
        _raw(synth_dir / "data_batch_2", "latin1"),
    )
    assert set(as_latin1) == {"data", "labels", "batch_label", "filenames"}
    np.testing.assert_array_equal(as_latin1["data"], as_bytes[b"data"])
    assert as_latin1["labels"] == as_bytes[b"labels"]
    assert as_latin1["batch_label"] == "training batch 2 of 5"


def test_meta_file(synth_dir: Path) -> None:
    meta = _raw(synth_dir / "batches.meta")
    assert meta[b"num_cases_per_batch"] == PER_BATCH
    assert meta[b"num_vis"] == 3072
    names = meta[b"label_names"]
    assert isinstance(names, list) and len(names) == 10


def test_labels_are_balanced_per_batch(synth_dir: Path) -> None:
    labels = _raw(synth_dir / "data_batch_1")[b"labels"]
    assert isinstance(labels, list)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, PER_BATCH // 10))


def test_writer_is_deterministic_per_seed(tmp_path: Path) -> None:
    a = write_synthetic_cifar10(tmp_path / "a", images_per_batch=10, num_test=10, seed=5)
    b = write_synthetic_cifar10(tmp_path / "b", images_per_batch=10, num_test=10, seed=5)
    c = write_synthetic_cifar10(tmp_path / "c", images_per_batch=10, num_test=10, seed=6)
    assert (a / "data_batch_3").read_bytes() == (b / "data_batch_3").read_bytes()
    assert (a / "data_batch_3").read_bytes() != (c / "data_batch_3").read_bytes()


@pytest.mark.parametrize("bad", [{"images_per_batch": 0}, {"num_test": 0}])
def test_writer_rejects_empty_batches(tmp_path: Path, bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        write_synthetic_cifar10(tmp_path, **bad)


# ------------------------------------------------------------------ loading


def test_load_batch_is_nhwc_float64_with_rgb_planes(synth_dir: Path) -> None:
    X, y = load_CIFAR_batch(synth_dir / "data_batch_1")
    raw = _raw(synth_dir / "data_batch_1")
    data = raw[b"data"]
    assert isinstance(data, np.ndarray)
    assert X.shape == (PER_BATCH, 32, 32, 3) and X.dtype == np.float64
    assert y.shape == (PER_BATCH,) and y.dtype == np.int64
    for channel in range(3):  # row = R plane, G plane, B plane, each 32x32 row-major
        plane = data[:, channel * 1024 : (channel + 1) * 1024].reshape(-1, 32, 32)
        np.testing.assert_array_equal(X[..., channel], plane)
    np.testing.assert_array_equal(y, raw[b"labels"])


def test_load_cifar10_concatenates_batches_in_order(synth_dir: Path) -> None:
    X_train, y_train, X_test, y_test = load_CIFAR10(synth_dir)
    assert X_train.shape == (TOTAL_TRAIN, 32, 32, 3) and y_train.shape == (TOTAL_TRAIN,)
    assert X_test.shape == (NUM_TEST, 32, 32, 3) and y_test.shape == (NUM_TEST,)
    X5, y5 = load_CIFAR_batch(synth_dir / "data_batch_5")
    np.testing.assert_array_equal(X_train[-PER_BATCH:], X5)
    np.testing.assert_array_equal(y_train[-PER_BATCH:], y5)


# ------------------------------------------------------------------ split and preprocessing


@pytest.mark.parametrize(
    ("num_training", "num_validation", "num_test"),
    [
        (150, 50, 30),  # train + val = all training images, like the defaults 49000 + 1000
        (100, 20, 10),  # smaller: val follows train (100..119), it is not the last 20 images
        (10, 30, 5),
        (199, 1, 1),
        (200, 0, 5),
    ],
)
def test_split_shapes_and_membership(
    synth_dir: Path, num_training: int, num_validation: int, num_test: int
) -> None:
    data = get_CIFAR10_data(num_training, num_validation, num_test, cifar10_dir=synth_dir)
    X_all, y_all, X_test_all, y_test_all = load_CIFAR10(synth_dir)
    sizes = {"train": num_training, "val": num_validation, "test": num_test}
    for split, n in sizes.items():
        assert data[f"X_{split}"].shape == (n, 3, 32, 32)
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].shape == (n,)
    # The starters' masks (variants.md §1.5): train range(num_training), val
    # range(num_training, num_training + num_validation), test range(num_test).
    val = slice(num_training, num_training + num_validation)
    expected = {
        "train": (X_all[:num_training], y_all[:num_training]),
        "val": (X_all[val], y_all[val]),
        "test": (X_test_all[:num_test], y_test_all[:num_test]),
    }
    mean_image = X_all[:num_training].mean(axis=0) if num_training else 0.0  # NHWC
    for split, (X, y) in expected.items():
        np.testing.assert_allclose(
            data[f"X_{split}"], (X - mean_image).transpose(0, 3, 1, 2), rtol=0, atol=1e-12
        )
        np.testing.assert_array_equal(data[f"y_{split}"], y)


class _IndexedCIFAR:
    """Stands in for ``load_CIFAR10`` with the real sizes: each 1x1x1 image holds its index."""

    def __init__(self, n_train: int = 50000, n_test: int = 10000) -> None:
        self.X_train = np.arange(n_train, dtype=np.float64).reshape(n_train, 1, 1, 1)
        self.y_train = np.arange(n_train, dtype=np.int64) % 10
        self.X_test = 1e6 + np.arange(n_test, dtype=np.float64).reshape(n_test, 1, 1, 1)
        self.y_test = np.arange(n_test, dtype=np.int64) % 10

    def __call__(self, root: object) -> tuple[np.ndarray, ...]:
        return self.X_train, self.y_train, self.X_test, self.y_test


@pytest.mark.parametrize(
    ("sizes", "train", "val", "test"),
    [
        ({}, (0, 49000), (49000, 50000), (0, 1000)),  # the defaults
        (
            {"num_training": 4900, "num_validation": 100, "num_test": 50},
            (0, 4900),
            (4900, 5000),
            (0, 50),
        ),
        (
            {"num_training": 10000, "num_validation": 5000, "num_test": 10000},
            (0, 10000),
            (10000, 15000),
            (0, 10000),
        ),
    ],
)
def test_split_indices_at_the_real_sizes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sizes: dict[str, int],
    train: tuple[int, int],
    val: tuple[int, int],
    test: tuple[int, int],
) -> None:
    """Which images land in which split, for 50000/10000 images (cheap 1x1x1 stand-ins)."""
    (tmp_path / "data_batch_1").touch()  # resolve_cifar10_dir only looks for this file
    monkeypatch.setattr(reference.data, "load_CIFAR10", _IndexedCIFAR())
    data = get_CIFAR10_data(subtract_mean=False, cifar10_dir=tmp_path, **sizes)
    for split, (lo, hi) in (("train", train), ("val", val)):
        np.testing.assert_array_equal(data[f"X_{split}"].ravel(), np.arange(lo, hi))
        np.testing.assert_array_equal(data[f"y_{split}"], np.arange(lo, hi) % 10)
    np.testing.assert_array_equal(data["X_test"].ravel(), 1e6 + np.arange(*test))
    centred = get_CIFAR10_data(cifar10_dir=tmp_path, **sizes)
    mean = (train[1] - 1) / 2  # mean index of the training split
    np.testing.assert_allclose(centred["X_val"].ravel(), np.arange(*val) - mean, rtol=0, atol=1e-9)


def test_training_split_is_centred(synth_dir: Path) -> None:
    data = get_CIFAR10_data(120, 40, 20, cifar10_dir=synth_dir)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-12)
    assert abs(data["X_val"].mean()) > 0  # centred with the *training* mean, not its own


def test_without_mean_subtraction_pixels_are_raw(synth_dir: Path) -> None:
    data = get_CIFAR10_data(100, 50, 10, subtract_mean=False, cifar10_dir=synth_dir)
    X_all = load_CIFAR10(synth_dir)[0]
    np.testing.assert_array_equal(data["X_train"], X_all[:100].transpose(0, 3, 1, 2))
    assert data["X_train"].min() >= 0 and data["X_train"].max() <= 255
    assert data["X_train"].flags.c_contiguous


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((190, 20, 10), "exceeds the 200 training images"),
        ((100, 10, 31), "exceeds the 30 test images"),
        ((-1, 10, 10), "num_training must be >= 0"),
    ],
)
def test_split_rejects_impossible_sizes(
    synth_dir: Path, args: tuple[int, int, int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        get_CIFAR10_data(*args, cifar10_dir=synth_dir)


# ------------------------------------------------------------------ finding the directory


def test_env_var_may_name_the_parent_directory(
    synth_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CIFAR_DIR_ENV, str(synth_dir.parent))
    assert resolve_cifar10_dir() == synth_dir
    assert get_CIFAR10_data(10, 10, 10)["X_val"].shape == (10, 3, 32, 32)


def test_the_reference_and_the_grader_read_one_variable() -> None:
    from grader.accuracy.data import DATA_ENV

    assert CIFAR_DIR_ENV == DATA_ENV == "NNGRADER_DATA"


def test_missing_env_var_raises_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CIFAR_DIR_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=CIFAR_DIR_ENV):
        get_CIFAR10_data()


def test_wrong_directory_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="data_batch_1") as info:
        resolve_cifar10_dir(tmp_path)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in str(info.value)


# ------------------------------------------------------------------ in-memory synthetic data


@pytest.mark.parametrize("image_shape", [(3, 32, 32), (3, 8, 8), (1, 4, 6)])
def test_synthetic_dataset_layout(image_shape: tuple[int, int, int]) -> None:
    data = synthetic_dataset(50, 20, 10, seed=1, image_shape=image_shape)
    for split, n in {"train": 50, "val": 20, "test": 10}.items():
        assert data[f"X_{split}"].shape == (n, *image_shape)
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].dtype == np.int64
        assert set(np.unique(data[f"y_{split}"])) <= set(range(10))
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 7])
def test_synthetic_dataset_is_deterministic_and_leaves_global_rng_alone(seed: int) -> None:
    np.random.seed(123)
    a = synthetic_dataset(30, 10, 10, seed=seed, image_shape=(3, 8, 8))
    after = np.random.rand()
    np.random.seed(123)
    expected_after = np.random.rand()
    b = synthetic_dataset(30, 10, 10, seed=seed, image_shape=(3, 8, 8))
    assert after == expected_after
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = synthetic_dataset(30, 10, 10, seed=seed + 1, image_shape=(3, 8, 8))
    assert not np.array_equal(a["X_train"], c["X_train"])


@pytest.mark.parametrize("image_shape", [(3, 8, 8), (3, 32, 32)])
def test_synthetic_classes_are_learnable(image_shape: tuple[int, int, int]) -> None:
    # A nearest-class-mean classifier, fitted on the training split, must beat chance (10 %)
    # clearly on the validation split; the generator's docstring states ~70 % for a small MLP.
    data = synthetic_dataset(1000, 200, 1, seed=3, image_shape=image_shape)
    X, y = data["X_train"].reshape(1000, -1), data["y_train"]
    centroids = np.stack([X[y == k].mean(axis=0) for k in range(10)])
    X_val = data["X_val"].reshape(200, -1)
    pred = np.argmin(((X_val[:, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    assert (pred == data["y_val"]).mean() > 0.25


def test_synthetic_dataset_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="image_shape"):
        synthetic_dataset(10, 10, 10, image_shape=(3, 0, 8))


# ------------------------------------------------------------------ the near-CIFAR copy


def _shared_cifar_dir() -> Path | None:
    for candidate in (
        os.environ.get(CIFAR_DIR_ENV),
        str(Path(__file__).resolve().parents[3] / "shared" / "data"),
    ):
        if candidate:
            try:
                return resolve_cifar10_dir(candidate)
            except FileNotFoundError:
                continue
    return None


@pytest.mark.cifar
@pytest.mark.slow
def test_standard_split_on_the_shared_cifar_copy() -> None:
    root = _shared_cifar_dir()
    if root is None:
        pytest.skip(f"no CIFAR-10 batches: set {CIFAR_DIR_ENV} or provide ../shared/data")
    data = get_CIFAR10_data(cifar10_dir=root)
    assert {k: v.shape for k, v in data.items()} == {
        "X_train": (49000, 3, 32, 32),
        "y_train": (49000,),
        "X_val": (1000, 3, 32, 32),
        "y_val": (1000,),
        "X_test": (1000, 3, 32, 32),
        "y_test": (1000,),
    }
    _, y5 = load_CIFAR_batch(root / "data_batch_5")  # val = last 1000 of data_batch_5
    np.testing.assert_array_equal(data["y_val"], y5[-1000:])
    _, y_test = load_CIFAR_batch(root / "test_batch")
    np.testing.assert_array_equal(data["y_test"], y_test[:1000])
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-9)
    assert np.array_equal(np.bincount(data["y_train"], minlength=10) > 4000, np.ones(10, bool))
    # A non-default size: val = images 4900..4999, i.e. the end of data_batch_1 (the starters).
    small = get_CIFAR10_data(
        num_training=4900, num_validation=100, num_test=10, subtract_mean=False, cifar10_dir=root
    )
    X1, y1 = load_CIFAR_batch(root / "data_batch_1")
    np.testing.assert_array_equal(small["y_val"], y1[4900:5000])
    np.testing.assert_array_equal(small["X_val"], X1[4900:5000].transpose(0, 3, 1, 2))
