"""CS182's ``submission_logs/``: the training histories and the self-reported ``results.json``.

CS182's Solver saves ``np.savez(filename, train_losses=..., train_accs=..., val_accs=...)``
(``record_histories_as_npz``, variants.md §6.2); the notebooks save one file per experiment
(§6.4 items 6, 7, 11) and a ``results.json`` such as ``{"val_acc": 0.468, "test_acc": 0.442}``
is self-reported. What is checked is that they agree: each history's arrays are there, one value
per epoch and per iteration as the notebook's settings give (``[[notebooks.logs.curves]]``), and
the reported ``val_acc`` is one of the histories' validation accuracies. What does not hold is
reported; the numbers are shown as self-reported and never scored.

Every file is the student's: an ``.npz`` must pass ``grader.child.archive.check_archive`` (stored
members, numeric ``.npy`` headers whose sizes add up, within ``MAX_NPZ_BYTES``) before
``np.load(..., allow_pickle=False)`` reads it, and no more than ``MAX_FILES`` are read.
"""

from __future__ import annotations

import fnmatch
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader import sanitize
from grader.child.archive import ArchiveError, check_archive
from grader.intake import SKIP_DIRS
from grader.notebooks.read import read_bounded
from grader.spec.notebooks import LogsSpec

__all__ = ["KEYS", "Logs", "read_logs"]

KEYS = ("train_losses", "train_accs", "val_accs")
MAX_FILES = 128
MAX_NPZ_BYTES = 4 * 2**20
MAX_RESULTS_BYTES = 64 * 1024
ACC_TOLERANCE = 5e-4
"""How close a reported accuracy must be to a recorded one: half of 1/1000, the step of an
accuracy on CIFAR-10's 1000 validation images, so a value rounded to 3 decimals still agrees."""


@dataclass(frozen=True)
class Logs:
    """What ``submission_logs/`` holds, and which agreements do not hold."""

    folder: str
    """Relative to the submission's root; ``""`` when there is none."""
    histories: dict[str, dict[str, Any]]
    """File name -> lengths of its three arrays and its best and last validation accuracy."""
    self_reported: dict[str, float]
    """The numbers of ``results.json`` (self-reported, never measured)."""
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "histories": self.histories,
            "self_reported": self.self_reported,
            "problems": list(self.problems),
        }


def _find_folder(root: Path, name: str) -> Path | None:
    """The shallowest real folder called ``name`` (its last component) in the submission."""
    wanted = Path(name).name
    best: Path | None = None
    for folder, dirnames, _ in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        if wanted in dirnames and not (Path(folder) / wanted).is_symlink():
            found = Path(folder) / wanted
            if best is None or len(found.parts) < len(best.parts):
                best = found
    return best


def _history(path: Path) -> dict[str, np.ndarray]:
    """The three arrays of one saved history; raises ValueError saying what is wrong."""
    data = read_bounded(path, MAX_NPZ_BYTES)
    if data is None:
        raise ValueError(f"is larger than {MAX_NPZ_BYTES // 2**20} MiB")
    try:
        members = check_archive(data, max_bytes=MAX_NPZ_BYTES)
    except ArchiveError as exc:
        raise ValueError(f"is not an array file np.savez writes ({exc})") from None
    missing = [k for k in KEYS if k not in members]
    if missing:
        raise ValueError(f"has no {', '.join(missing)}")
    if any(len(members[k][1]) != 1 for k in KEYS):
        raise ValueError("holds arrays that are not 1-dimensional histories")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: np.asarray(npz[k], dtype=np.float64) for k in KEYS}


def _expected(name: str, spec: LogsSpec) -> tuple[int, int] | None:
    """(accuracy values, loss values) the notebook's settings give for this file, if known."""
    for curve in spec.curves:
        if fnmatch.fnmatchcase(name, curve.files):
            return curve.epochs + 1, curve.iterations
    return None


def _check_history(name: str, arrays: dict[str, np.ndarray], spec: LogsSpec) -> list[str]:
    problems = []
    lengths = {k: len(v) for k, v in arrays.items()}
    if lengths["train_accs"] != lengths["val_accs"]:
        problems.append(
            f"{name}: {lengths['train_accs']} training but {lengths['val_accs']} validation "
            "accuracies (the Solver records both together)"
        )
    expected = _expected(name, spec)
    if expected is not None:
        accs, losses = expected
        if lengths["val_accs"] != accs or lengths["train_losses"] != losses:
            problems.append(
                f"{name}: {lengths['val_accs']} validation accuracies and "
                f"{lengths['train_losses']} losses, but the notebook's settings give {accs} and "
                f"{losses}"
            )
    values = np.concatenate([arrays["train_accs"], arrays["val_accs"]])
    if not np.all(np.isfinite(values) & (values >= 0) & (values <= 1)):
        problems.append(f"{name}: accuracies outside [0, 1]")
    return problems


def _summary(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    val = arrays["val_accs"]
    finite = val[np.isfinite(val)]
    return {
        **{k: len(v) for k, v in arrays.items()},
        "best_val_acc": float(finite.max()) if finite.size else None,
        "last_val_acc": float(finite[-1]) if finite.size else None,
    }


def _results(path: Path) -> tuple[dict[str, float], list[str]]:
    """The numbers of a self-reported ``results.json``, and what is wrong with it."""
    try:
        data = read_bounded(path, MAX_RESULTS_BYTES)
        raw = json.loads(data.decode("utf-8")) if data is not None else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return {}, [f"{path.name} could not be read as JSON"]
    if not isinstance(raw, dict):
        return {}, [f"{path.name} is not a JSON object (or is over {MAX_RESULTS_BYTES} bytes)"]
    numbers = {
        sanitize.text(str(k))[:64]: float(v)
        for k, v in raw.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    return dict(sorted(numbers.items())[:32]), []


def read_logs(root: Path, spec: LogsSpec) -> Logs:
    """Read the submission's logs folder and check that its files agree with each other."""
    folder = _find_folder(root, spec.folder)
    if folder is None:
        return Logs(
            "", {}, {}, (f"no {spec.folder}/ folder: the notebook saves its histories there",)
        )
    rel = folder.relative_to(root).as_posix()
    problems: list[str] = []
    histories: dict[str, dict[str, Any]] = {}
    val_accs: list[np.ndarray] = []
    files = sorted(p for p in folder.iterdir() if p.suffix == ".npz" and not p.is_symlink())
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} .npz files; the first {MAX_FILES} were read")
    for path in files[:MAX_FILES]:
        name = sanitize.text(path.name)
        try:
            arrays = _history(path)
        except (ValueError, OSError) as exc:
            problems.append(f"{name} {exc}")
            continue
        histories[name] = _summary(arrays)
        problems.extend(_check_history(name, arrays, spec))
        val_accs.append(arrays["val_accs"])
    if not files:
        problems.append(f"{rel}/ holds no .npz histories")
    reported: dict[str, float] = {}
    results = folder / spec.results
    if results.is_file() and not results.is_symlink():
        reported, bad = _results(results)
        problems.extend(bad)
        val = reported.get("val_acc")
        recorded = np.concatenate(val_accs) if val_accs else np.zeros(0)
        if val is not None and not np.any(np.abs(recorded - val) <= ACC_TOLERANCE):
            problems.append(
                f"{spec.results} reports val_acc {val:g}, which no history in {rel}/ recorded"
            )
    return Logs(rel, histories, reported, tuple(problems))
