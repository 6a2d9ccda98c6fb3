"""Hostile submission names: too long for a disk, not UTF-8, escapes, look-alikes, squatting.

A student names the folder or zip they upload; an LMS export keeps that name. Each attack below
plants only a name (the code is the wrong-but-harmless base), next to an honest classmate graded
after it, and asserts (a) the attacker scores no more than the base, (b) what the name did is
visible and harmless: the name is kept in results.json, the folder is a safe slug, the terminal
shows it escaped, and the classmate is graded and written, and (c) through the ``hostile``
fixture's checks: nothing outside the sandbox changed, no process is left (see conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.conftest import (
    ASSIGNMENT,
    BASE,
    ROOT,
    Hostile,
    Listener,
    sandbox_leftovers,
    wait_for_no_leftovers,
    write_zip,
)

pytestmark = pytest.mark.sandbox

BASE_FILES = (
    [(p.relative_to(BASE).as_posix(), p.read_bytes()) for p in sorted(BASE.rglob("*.py"))]
    if BASE.is_dir()
    else []
)
LONG = "é" * 200
"""400 bytes: no file system takes it as one file name (the limit is 255)."""
FORGED = b"\xff\xfeevil\x1b[2K\rbob  59.0\xe2\x88\x9559.0"
"""Not UTF-8 (``\\xff\\xfe``), erase the line and return to its start (``ESC[2K``, ``\\r``), then a
full score with a look-alike slash (U+2215, in UTF-8): on a terminal, a forged ``bob`` line."""
CLI_LIMITS = [
    *("--timeout", "3", "--submission-timeout", "90", "--cpu-seconds", "20"),
    *("--memory-mb", "768", "--max-processes", "32", "--max-file-mb", "32", "--output-kb", "16"),
]
"""The conftest's ``LIMITS``, as options of ``nngrader grade``."""
GRADE = [sys.executable, "-m", "grader", "grade", "--assignment", ASSIGNMENT, "--sandbox", "bwrap"]


def export(path: Path, students: list[str]) -> Path:
    """An LMS export holding the base submission once per student folder name."""
    return write_zip(
        path, [(f"submissions/{s}/{rel}", data) for s in students for rel, data in BASE_FILES]
    )


def test_a_name_too_long_for_any_disk_does_not_stop_the_batch(hostile: Hostile) -> None:
    graded = hostile.grade(export(hostile.tmp / "export.zip", [LONG, "zed"]))
    # The name is kept in results.json, whatever folder holds it.
    attacker, victim = sorted(graded, key=lambda g: g.doc["extra_data"]["submission"] != LONG)
    assert attacker.doc["extra_data"]["submission"] == LONG and attacker.score <= hostile.base
    folders = sorted(p.name for p in hostile.out.iterdir() if p.is_dir())
    assert "zed" in folders and len(folders) == 2
    (slug,) = (f for f in folders if f != "zed")
    assert slug.isascii() and len(slug) <= 100 and slug.startswith("e" * 20)
    assert victim.doc["extra_data"]["submission"] == "zed" and victim.score == hostile.base


def test_a_name_taking_a_classmates_folder_does_not_overwrite_it(hostile: Hostile) -> None:
    """``Müller`` is written to ``Muller-<hash>``; a classmate who names a folder exactly that
    keeps it, and Müller moves on: both are graded and written, neither over the other."""
    from grader.report.names import slug

    squatter = slug("Müller")
    muller, squat = hostile.grade(export(hostile.tmp / "export.zip", ["Müller", squatter]))
    assert {muller.doc["extra_data"]["submission"], squat.doc["extra_data"]["submission"]} == {
        "Müller",
        squatter,
    }
    assert muller.score <= hostile.base and squat.score <= hostile.base
    folders = {
        json.loads((p / "results.json").read_text())["extra_data"]["submission"]: p.name
        for p in hostile.out.iterdir()
        if p.is_dir()
    }
    assert folders[squatter] == squatter
    assert folders["Müller"] != squatter and folders["Müller"].startswith("Muller-")


@pytest.mark.parametrize("encoding", ["ascii", "utf-8:strict"])
def test_escapes_and_a_lookalike_slash_cannot_forge_a_terminal_line(
    hostile: Hostile, listener: Listener, encoding: str
) -> None:
    """``nngrader grade`` on an unpacked export with a name that is not UTF-8 and holds escapes,
    on an ASCII and on a strict UTF-8 terminal: every line is one submission's, escaped."""
    unpacked = hostile.tmp / "unpacked"
    for student in (FORGED, b"victim"):
        folder = os.path.join(os.fsencode(unpacked), student)
        for rel, data in BASE_FILES:
            path = Path(os.fsdecode(os.path.join(folder, os.fsencode(rel))))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    before = sandbox_leftovers()
    proc = subprocess.run(
        [*GRADE, str(unpacked), "--out", str(hostile.out), *CLI_LIMITS],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": encoding, "LC_ALL": "C"},
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert not wait_for_no_leftovers(before)
    assert not hostile.canary.exists() and listener.connections == 0
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    text = proc.stdout.decode("utf-8")  # strict: what reached the terminal is valid text
    assert "\x1b" not in text and "\r" not in text
    assert "59.0/59.0" not in text and "59.0\u221559.0" not in text
    lines = text.splitlines()
    assert sum(line.endswith("results.json") for line in lines) == 2
    assert lines[-1].startswith("results in ")
    attacker = next(line for line in lines if line.startswith("\\xff\\xfeevil"))
    assert attacker.startswith("\\xff\\xfeevil\\x1b[2K\\rbob  59.0\\u221559.0 ")
    assert any(line.startswith("victim ") for line in lines)
    docs = {
        doc["extra_data"]["submission"]: doc
        for doc in (
            json.loads((p / "results.json").read_text())
            for p in hostile.out.iterdir()
            if p.is_dir()
        )
    }
    assert set(docs) == {"\\xff\\xfeevil\x1b[2K\rbob  59.0\u221559.0", "victim"}
    assert all(doc["score"] <= hostile.base for doc in docs.values())
    assert docs["victim"]["score"] == hostile.base
