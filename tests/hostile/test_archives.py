"""Hostile archives and cross-submission reads."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from tests.hostile.conftest import BASE, LEAK, grade, leftover_processes, make_submission, write_zip

ROOT_FILES = [(p.relative_to(BASE).as_posix(), p.read_bytes()) for p in sorted(BASE.rglob("*.py"))] if BASE.is_dir() else []


def _graded_error(tmp_path: Path, archive: Path, expected: str) -> dict:
    (doc,) = grade([archive], tmp_path / "out")
    assert doc["score"] == 0
    assert expected in doc["error"]
    return doc


def test_zip_slip_with_dotdot(tmp_path: Path) -> None:
    target = tmp_path / "escaped.py"
    archive = write_zip(tmp_path / "slip.zip", [*ROOT_FILES, ("../" * 6 + str(target).lstrip("/"), b"x = 1\n")])
    _graded_error(tmp_path, archive, "path escapes the submission folder")
    assert not target.exists()


def test_zip_with_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "abs.py"
    archive = write_zip(tmp_path / "abs.zip", [*ROOT_FILES, (str(target), b"x = 1\n")])
    _graded_error(tmp_path, archive, "absolute path")
    assert not target.exists()


def test_zip_with_symlink_to_the_reference(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("cs231n/layers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    reference = Path(__file__).resolve().parents[2] / "reference" / "layers.py"
    archive = write_zip(tmp_path / "link.zip", [(link, str(reference).encode())])
    _graded_error(tmp_path, archive, "symbolic links are not allowed")


def test_zip_bomb(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bomb.zip", [*ROOT_FILES, ("cs231n/data.bin", bytes(400 * 1024 * 1024))])
    doc = _graded_error(tmp_path, archive, "MiB")
    assert "bomb" in doc["error"] or "larger than" in doc["error"] or "expands" in doc["error"]


def test_reading_another_submission(tmp_path: Path) -> None:
    victim = make_submission(tmp_path / "victim", files={"cs231n/secret_notes.py": "TOKEN = 'VICTIM-TOKEN-91'\n"})
    thief = make_submission(tmp_path / "thief", at_import=f'''
import os
for top in ("/", "/tmp", {str(tmp_path)!r}):
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.startswith(("/proc", "/sys", "/usr")):
            dirnames[:] = []
            continue
        if "secret_notes.py" in filenames:
            print("{LEAK}", dirpath)
''')
    docs = grade([victim, thief], tmp_path / "out")
    assert LEAK not in json.dumps(docs[1])
    assert docs[1]["score"] <= docs[0]["score"]
    assert leftover_processes() == []


def test_writing_into_the_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    thief = make_submission(tmp_path / "sub", at_import=f'''
import json, os
for folder in ({str(out)!r}, {str(out / "sub")!r}):
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "results.json"), "w").write(json.dumps({{"score": 1000}}))
    except OSError:
        pass
''')
    (doc,) = grade([thief], out)
    assert doc["score"] < 1000 and doc["isolation"] == "bwrap"
    assert sorted(p.name for p in out.iterdir()) == ["sub"]
