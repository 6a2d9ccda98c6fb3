"""Hostile archives, reading other submissions, writing into the output folder (see conftest.py)."""

from __future__ import annotations

import json
import secrets
import stat
import zipfile
from pathlib import Path

import pytest

from tests.grader.report.test_render import VIEWS
from tests.hostile.conftest import (
    BASE,
    LEAK_PY,
    NEEDLES,
    ROOT,
    SYSTEM_DIRS,
    Hostile,
    make_submission,
    py_str,
    write_zip,
    zip_folder,
)

pytestmark = pytest.mark.sandbox

BASE_FILES = (
    [(p.relative_to(BASE).as_posix(), p.read_bytes()) for p in sorted(BASE.rglob("*.py"))]
    if BASE.is_dir()
    else []
)


def graded_error(hostile: Hostile, archive: Path, expected: str) -> dict:
    (doc,) = hostile.grade(archive)
    assert doc.score == 0
    assert expected in (doc.doc["extra_data"]["error"] or ""), doc.doc["extra_data"]["error"]
    return doc.doc


def test_zip_slip_with_dotdot(hostile: Hostile) -> None:
    target = hostile.tmp / "escaped.py"
    archive = write_zip(
        hostile.tmp / "slip.zip", [*BASE_FILES, ("../" * 6 + str(target).lstrip("/"), b"x = 1\n")]
    )
    graded_error(hostile, archive, "path escapes the submission folder")
    assert not target.exists()


def test_zip_with_absolute_path(hostile: Hostile) -> None:
    target = hostile.tmp / "abs.py"
    archive = write_zip(hostile.tmp / "abs.zip", [*BASE_FILES, (str(target), b"x = 1\n")])
    graded_error(hostile, archive, "absolute path")
    assert not target.exists()


def test_zip_with_symlink_to_the_reference(hostile: Hostile) -> None:
    link = zipfile.ZipInfo("cs231n/layers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = write_zip(
        hostile.tmp / "link.zip", [(link, str(ROOT / "reference" / "layers.py").encode())]
    )
    graded_error(hostile, archive, "symbolic links are not allowed")


def test_zip_bomb(hostile: Hostile) -> None:
    archive = write_zip(
        hostile.tmp / "bomb.zip", [*BASE_FILES, ("cs231n/data.bin", bytes(400 * 1024 * 1024))]
    )
    error = graded_error(hostile, archive, "MiB")["extra_data"]["error"]
    assert "bomb" in error or "larger than" in error or "expands" in error


def symlinks(victim: Path) -> dict[str, Path]:
    """Links a folder submission plants: to the reference, and into another submission."""
    return {
        "cs231n/ref_layers.py": ROOT / "reference" / "layers.py",
        "cs231n/victim_notes.py": victim / "cs231n" / "secret_notes.py",
        "cs231n/refdir": ROOT / "reference",
        "cs231n/victimdir": victim / "cs231n",
    }


LINK_READS = ["ref_layers.py", "victim_notes.py", "refdir/layers.py", "victimdir/secret_notes.py"]
"""What the thief reads next to its layers.py (through the links, if intake kept them)."""


def steal(token: str, victim: Path, tops: list[Path]) -> str:
    """Attack code: read the planted symlinks, then search the disk for the victim's files."""
    return f"""
import os
_nng_token = {py_str(token)}
_nng_needles = [{", ".join(py_str(n) for n in NEEDLES)}]
_nng_here = os.path.dirname(os.path.abspath(__file__))
_nng_found, _nng_files = [], 0


def _nng_look(path):
    try:
        with open(path, errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return
    if _nng_token in text or any(n in text for n in _nng_needles):
        _nng_found.append((path, text[:300]))


for _nng_rel in {LINK_READS!r}:
    _nng_look(os.path.join(_nng_here, _nng_rel))
try:
    import cs231n.ref_layers
    _nng_found.append(("import cs231n.ref_layers", cs231n.ref_layers.__file__))
except ImportError:
    pass
_nng_tops = ["/", "/tmp", "/run", "/work", "/root", "/home", *{[str(t) for t in [victim, *tops]]!r}]
_nng_tops += [os.path.join("/proc", p, "cwd") for p in os.listdir("/proc") if p.isdigit()]
_nng_system = set({SYSTEM_DIRS!r})
_nng_seen = set()
for _nng_top in _nng_tops:
    for _nng_dir, _nng_subdirs, _nng_filenames in os.walk(_nng_top):
        if os.path.realpath(_nng_dir) in _nng_seen or _nng_files > 400_000:
            _nng_subdirs[:] = []
            continue
        _nng_seen.add(os.path.realpath(_nng_dir))
        _nng_subdirs[:] = [d for d in _nng_subdirs if os.path.join(_nng_dir, d) not in _nng_system]
        _nng_files += len(_nng_filenames)
        for _nng_name in _nng_filenames:
            if _nng_name in ("secret_notes.py", "victim_notes.py", "ref_layers.py") or (
                    _nng_name.endswith(".py") and _nng_dir.startswith(("/tmp", "/run", "/work"))):
                _nng_look(os.path.join(_nng_dir, _nng_name))
if _nng_found:
    print({LEAK_PY}, _nng_found)
print("NNG-STEAL-DONE", _nng_files, _nng_files > 400_000)
"""


@pytest.mark.parametrize("form", ["zip", "folder-with-symlinks"])
def test_reading_another_submission(hostile: Hostile, form: str) -> None:
    token = "VICTIM-TOKEN-" + secrets.token_hex(8)
    victim = make_submission(
        hostile.tmp / "victim", files={"cs231n/secret_notes.py": f"TOKEN = {token!r}\n"}
    )
    thief = hostile.submission("thief", at_end=steal(token, victim, [hostile.tmp, ROOT]))
    if form == "zip":
        victim, thief = (
            zip_folder(victim, hostile.tmp / "victim.zip"),
            zip_folder(thief, hostile.tmp / "thief.zip"),
        )
    else:
        for rel, target in symlinks(victim).items():
            (thief / rel).symlink_to(target)
    robbed, stolen = hostile.grade(victim, thief)
    assert robbed.score == hostile.base
    assert stolen.score <= hostile.base
    done = [line for line in stolen.log.splitlines() if line.startswith("NNG-STEAL-DONE")]
    assert done and done[0].endswith("False"), (
        f"the search did not finish: {stolen.message('affine_forward')[:400]!r}"
    )
    assert token not in stolen.everything
    for needle in NEEDLES:
        assert needle not in stolen.everything
    assert stolen.status("relu_forward") == "passed"


def test_writing_into_the_output_directory(hostile: Hostile) -> None:
    out = hostile.out
    doc = hostile.attack(
        at_import=f"""
import json, os
_nng_fake = json.dumps({{"score": 1000, "max_score": 1000, "tests": []}})
for _nng_folder in ({str(out)!r}, {str(out / "attack")!r}, {str(out / "victim")!r}):
    try:
        os.makedirs(_nng_folder, exist_ok=True)
        for _nng_name in ("results.json", "output.txt"):
            open(os.path.join(_nng_folder, _nng_name), "w").write(_nng_fake)
        print("NNG-WRITE wrote", _nng_folder)
    except OSError as _nng_exc:
        print("NNG-WRITE refused", _nng_folder, type(_nng_exc).__name__)
"""
    )
    # Every import of the module tries all three folders: one import per child (the visible
    # checks' child, then the hidden checks' fresh one), and every try is refused.
    refused = doc.log.count("NNG-WRITE refused")
    assert refused in (3, 6) and "NNG-WRITE wrote" not in doc.log
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["attack"]
    assert sorted(p.name for p in (out / "attack").iterdir()) == sorted(VIEWS)
    assert json.loads((out / "attack" / "results.json").read_text())["score"] == doc.score
    assert doc.status("relu_forward") == "passed"
