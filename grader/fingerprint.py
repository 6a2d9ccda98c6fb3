"""What was graded, as one hash: the store regrades a submission when it changes.

A submission's result depends on its files (and on what intake said about them: an error, the
files it left out), on the spec it is graded against (its file's content, or every bundled spec
when the course is detected), on the grader's version, the sandbox mode, the limits, the CIFAR-10
data and the notebook execution budgets. ``content`` hashes all of it, so a resumed batch grades
exactly what changed. Paths are not part of it: moving the inputs or reinstalling the same
version regrades nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

from grader import __version__
from grader.executors.job import Settings
from grader.intake import Submission
from grader.spec import Spec

__all__ = ["content", "settings_digest", "submission_digest"]

_CHUNK = 1 << 20


def _spec_text(spec: Spec) -> str:
    """The spec's whole content (its parsed form, offering applied), without where it lives."""
    return repr(replace(spec, path=Path(spec.path.name)))


def _data_text(data: Path | None) -> str:
    """The CIFAR-10 folder: its files' names, sizes and modification times (not their 180 MB)."""
    if data is None:
        return ""
    files = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
    return json.dumps([(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def settings_digest(settings: Settings, specs: tuple[Spec, ...]) -> str:
    """The hash of what grades every submission of a batch (``specs``: those detected among)."""
    parts = {
        "version": __version__,
        "spec": _spec_text(settings.spec) if settings.spec else None,
        "specs": None if settings.spec else sorted(_spec_text(s) for s in specs),
        "isolation": settings.isolation,
        "limits": sorted(settings.limits.items()),
        "data": _data_text(settings.data),
        "execute": repr(settings.execute),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def submission_digest(submission: Submission) -> str:
    """The hash of a taken-in submission: every file's path and bytes, intake's error and notes
    (what the name is, or where it came from, is not part of it)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([submission.error, list(submission.notes)]).encode())
    if submission.root is not None:
        for path in _files(submission.root):
            rel = os.fsencode(path.relative_to(submission.root).as_posix())
            digest.update(len(rel).to_bytes(8, "big") + rel)
            digest.update(_file_digest(path))
    return digest.hexdigest()


def content(settings: str, submission: Submission) -> str:
    """What the store keeps per submission: ``settings_digest`` and ``submission_digest``."""
    return hashlib.sha256(f"{settings}:{submission_digest(submission)}".encode()).hexdigest()


def _files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (intake's clean copies hold no links), sorted."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found.extend(Path(folder, n) for n in sorted(names))
    return sorted(p for p in found if p.is_file() and not p.is_symlink())


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()
