"""The course's ``.npy`` model (``np.save`` of a params dict), read through the sandbox.

The file is a pickle; unpickling it runs whatever it says. So the grading process never opens it:
it copies the file into the staged workspace (read-only in the sandbox), asks a fresh child to
``load_course_model`` (``grader/child/course_model.py``), and takes back raw arrays through the
check protocol, bounded and validated like every reply, then validated again as a ``Model``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.accuracy.artifact import MAX_FILE_BYTES, ArtifactError, Model, from_arrays
from grader.errors import StudentFailure
from grader.sandbox import Limits, Sandbox
from grader.sandbox.session import Session, SessionConfig

__all__ = ["COPY_DIR", "course_model", "load_in_sandbox"]

COPY_DIR = "nngrader_model"
"""Folder of the staged workspace the file is copied to (beside the course's packages)."""


def course_model(arrays: Any) -> Model:
    """Validate the child's reply (a dict of float arrays) as a ``Model``.

    The course's params dict names no normalization: none without gammas, batchnorm with running
    statistics. Gammas without running statistics (what ``self.params`` of a batchnorm net
    holds: the running statistics live in ``bn_params``) cannot be evaluated faithfully.
    """
    if not isinstance(arrays, Mapping) or not all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in arrays.items()
    ):
        raise ArtifactError("the course model file did not hold a dict of arrays")
    if any(k.startswith("gamma") for k in arrays):
        if not any(k.startswith("running_mean") for k in arrays):
            raise ArtifactError(
                "the course's .npy format saves no running statistics, so a normalized net "
                "cannot be evaluated from it: submit best_model.npz (assignments/README.md)"
            )
        return from_arrays(arrays, "batchnorm")
    return from_arrays(arrays, "none")


def load_in_sandbox(
    path: Path,
    *,
    workspace: Path,
    runtime: Path,
    output: Path,
    isolation: str,
    limits: Limits,
    packages: tuple[str, ...] = (),
) -> Model:
    """Open the course model file ``path`` in a fresh sandboxed child; validate what comes back.

    Raises:
        ArtifactError: the file is too large, the child could not read it (its own words are not
            quoted: the file's code ran there), or the reply is not a valid model.
    """
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArtifactError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    dest = workspace / COPY_DIR / "model.npy"
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(path, dest)
    config = SessionConfig(
        runtime=runtime, workspace=workspace, modules={}, compat=False, output_path=output
    )
    scratch = Path(tempfile.mkdtemp(prefix="model-", dir=workspace.parent))
    try:
        with (
            Sandbox(
                mode=isolation,
                workspace=workspace,
                scratch=scratch,
                ro_paths=[runtime],
                limits=limits,
                packages=packages,
            ) as box,
            Session(config, box) as session,
        ):
            deadline = time.monotonic() + limits.check_seconds
            value = session.request("load_course_model", deadline, path=f"{COPY_DIR}/model.npy")
    except StudentFailure as exc:
        raise ArtifactError(
            f"{path.name} could not be read as the course's model file "
            f"({type(exc).__name__.removeprefix('Student').lower()} in the sandbox)"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        dest.unlink(missing_ok=True)
    return course_model(value)
