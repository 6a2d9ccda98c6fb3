"""The nngrader model file: accepted when it is the format, rejected with a reason otherwise."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.accuracy.artifact import ArtifactError, from_arrays, load_npz
from tests.grader.accuracy.conftest import random_net, save_model


@pytest.mark.parametrize("normalization", ["none", "batchnorm", "layernorm"])
def test_a_good_file_loads_with_its_hidden_sizes(tmp_path: Path, normalization: str) -> None:
    arrays = random_net((20, 15), normalization)
    model = load_npz(save_model(tmp_path / "best_model.npz", arrays, normalization))
    assert model.hidden_dims == (20, 15)
    assert model.normalization == normalization
    assert set(model.params) == set(arrays)
    np.testing.assert_array_equal(model.params["W2"], arrays["W2"])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_are_accepted_and_compressed_files_too(tmp_path: Path, dtype: type) -> None:
    arrays = {k: v.astype(dtype) for k, v in random_net().items()}
    path = tmp_path / "m.npz"
    np.savez_compressed(path, normalization=np.array("none"), **arrays)
    model = load_npz(path)
    assert model.params["W1"].dtype == dtype
    assert model.dtype == (np.float64 if dtype == np.float64 else np.float32)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda a: a.update(W2=a["W2"][:-1]), "W2 has shape"),
        (lambda a: a.update(W1=a["W1"][:100]), "input is 3072"),
        (lambda a: a.pop("b2"), "lacks b2"),
        (lambda a: a.update(extra=np.zeros(3)), "unexpected 'extra'"),
        (lambda a: a["W1"].__setitem__((0, 0), np.nan), "W1 holds NaN or inf"),
        (lambda a: a["b3"].__setitem__(0, np.inf), "b3 holds NaN or inf"),
        (lambda a: a.update(W3=np.zeros((15, 9))), "end in 10 classes"),
        (lambda a: a.update(b1=a["b1"].astype(np.int64)), "b1 has dtype int64"),
    ],
)
def test_a_mismatched_or_broken_model_is_rejected(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    arrays = random_net()
    change(arrays)
    with pytest.raises(ArtifactError, match=reason):
        from_arrays(arrays, "none")


def test_batchnorm_without_running_statistics_is_rejected() -> None:
    arrays = random_net(normalization="layernorm")
    with pytest.raises(ArtifactError, match="lacks running_mean1"):
        from_arrays(arrays, "batchnorm")


def test_object_arrays_are_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    arrays = random_net()
    np.savez(path, normalization=np.array("none"), **{**arrays, "W1": np.array([{"a": 1}])})
    with pytest.raises(ArtifactError, match="object arrays are never loaded"):
        load_npz(path)


def test_a_file_without_normalization_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, **random_net())
    with pytest.raises(ArtifactError, match="no 'normalization'"):
        load_npz(path)


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path: Path) -> None:
    """1.6 GB of zeros compress to about 1.5 MB; the directory alone refuses it."""
    path = tmp_path / "bomb.npz"
    header = (
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (200000000,), }"
    )
    header = header.ljust(10 + 118, b" ") + b"\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("W1.npy", "w", force_zip64=True) as member:
            member.write(header)
            zeros = bytes(1 << 24)
            for _ in range(1_600_000_000 // len(zeros)):
                member.write(zeros)
    assert path.stat().st_size < 8 * 2**20
    with pytest.raises(ArtifactError, match="declares 1520 MiB of arrays once decompressed"):
        load_npz(path)


def test_a_header_that_lies_about_the_member_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_model(path, random_net())
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "W1.npy":
                body = body.replace(b"(3072, 20)", b"(9072, 20)")
            dst.writestr(info.filename, body)
    with pytest.raises(ArtifactError, match="not the member's size"):
        load_npz(forged)


def test_a_file_that_is_not_a_zip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match=r"not a readable \.npz"):
        load_npz(path)
