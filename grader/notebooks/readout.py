"""The trained model, read out of the kernel once the notebook ran (``read_model``).

The spec names the notebook's model variable (``best_model``). The grading process asks the
kernel to write that net's parameters, as plain float arrays in nngrader's format (``W1`` …,
``b1`` …, ``gamma{i}``/``beta{i}``/``running_mean{i}``/``running_var{i}``, a 0-d string
``normalization``; ``grader.accuracy.artifact``), with ``np.savez`` into a file of its scratch
folder, under a name the grading process chose. What the kernel wrote is a claim, like any
submitted model file: the grading process copies it out without following links (size bounded)
and loads it with the artifact module's validated loader (``allow_pickle=False``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any

from grader.accuracy.artifact import MAX_FILE_BYTES, ArtifactError, Model, load_npz

__all__ = ["EXPORT", "export_code", "fetch_model", "model_path"]

EXPORT = """
def _nngrader_export(model, path):
    import numpy as np

    def plain(value):
        array = np.asarray(value)
        return array if array.dtype.kind == "f" else array.astype(np.float64)

    arrays = {str(key): plain(value) for key, value in dict(model.params).items()}
    norm = getattr(model, "normalization", None)
    if norm is None and getattr(model, "use_batchnorm", False):
        norm = "batchnorm"  # courses before 2019 name it with a flag
    for i, bn in enumerate(getattr(model, "bn_params", None) or []):
        for stat in ("running_mean", "running_var"):
            if isinstance(bn, dict) and stat in bn:
                arrays[f"{stat}{i + 1}"] = plain(bn[stat])
    arrays["normalization"] = np.array(str(norm) if norm else "none")
    np.savez(path, **arrays)
"""
"""Defined in the kernel (the notebook's own namespace) just before it is called."""


def export_code(variable: str, path: Path) -> str:
    """The code the kernel runs to write ``variable``'s parameters to ``path``.

    ``variable`` comes from the course spec (the instructor's text, not the student's).
    """
    return f"{EXPORT}\n_nngrader_export({variable}, {str(path)!r})\ndel _nngrader_export\n"


def model_path(scratch: Path) -> Path:
    """Where in ``scratch`` the kernel writes the model: a name it cannot have guessed."""
    return scratch / f"nngrader-model-{secrets.token_hex(8)}.npz"


def fetch_model(written: Path, private: Path) -> tuple[Model | None, str]:
    """Copy the kernel's file into ``private`` (a folder only the grader reads) and load it.

    Returns:
        The validated model, or None and why not (for the report).
    """
    try:
        fd = os.open(written, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, "the kernel wrote no model file"
    except OSError as exc:  # a link or a fifo put there by the notebook
        return None, f"the kernel's model file could not be opened ({exc.strerror})"
    copy = private / "model.npz"
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None, "the kernel's model file is not a regular file within the size limit"
        with copy.open("wb") as target:
            shutil.copyfileobj(_bounded(source, MAX_FILE_BYTES), target)
    try:
        return load_npz(copy), ""
    except ArtifactError as exc:
        return None, f"the model read out of the kernel was rejected: {exc}"
    finally:
        copy.unlink(missing_ok=True)


class _bounded:
    """A reader that stops after ``limit`` bytes (the file may grow while it is copied)."""

    def __init__(self, source: Any, limit: int) -> None:
        self.source, self.left = source, limit

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data: bytes = self.source.read(size) if size > 0 else b""
        self.left -= len(data)
        return data
