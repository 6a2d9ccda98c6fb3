"""Builders for intake tests: folders, zips and LMS exports on disk, and views of what was taken."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from grader.intake import zip_bytes

LAYERS = b"x = 1\n"


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; returns ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def write_zip(
    path: Path,
    members: list[tuple[zipfile.ZipInfo | str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a zip of ``members`` (name or ``ZipInfo``, content) at ``path``; returns ``path``."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def tree(root: Path) -> list[str]:
    """Relative paths of everything under ``root`` (links included, as themselves)."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_symlink() or not p.is_dir()
    )


def bytes_under(root: Path) -> int:
    """Bytes of the regular files under ``root`` (what intake wrote there)."""
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def by_name(subs: list[Any]) -> dict[str, Any]:
    """Submissions by name."""
    return {s.name: s for s in subs}


def export(path: Path, students: dict[str, bytes]) -> Path:
    """An LMS export: ``name.zip`` entries hold inner zips, other names are folder members."""
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (f"submissions/{name}", data) for name, data in students.items()
    ]
    return write_zip(path, members, zipfile.ZIP_STORED)


def inner(**files: bytes) -> bytes:
    """One student's zip: ``cs231n/layers.py`` and ``cs231n/<name>.bin`` for each of ``files``."""
    return zip_bytes(
        {"cs231n/layers.py": LAYERS, **{f"cs231n/{k}.bin": v for k, v in files.items()}}
    )


MOODLE = "_assignsubmission_file_"
"""How Moodle's "download all submissions" ends a student's folder name."""


def unpacked(archive: Path, dest: Path) -> Path:
    """``archive`` unpacked at ``dest`` (our own test zips only), as an instructor would."""
    with zipfile.ZipFile(archive) as z:
        z.extractall(dest)
    return dest
