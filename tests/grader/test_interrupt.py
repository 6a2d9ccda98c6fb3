"""Ctrl-C in the middle of a batch, as a terminal sends it: to the whole foreground process group.

``nngrader grade`` must stop cleanly: exit 130 without a traceback, keep every results.json that
finished, name what was not graded, and leave no process behind, neither its pool workers nor
the sandboxed children they started (which lead sessions of their own, so the signal does not
reach them: their workers must kill them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
COPIES = 6
PATIENCE = 300.0
"""Seconds to wait for something the test needs (generous: it only bounds a test that fails)."""


def _processes() -> dict[int, tuple[int, int, str, str]]:
    """Every process: pid -> (parent pid, session id, start time, state)."""
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), int(fields[3]), fields[19], fields[0])
    return found


def _descendants(root: int) -> dict[int, str]:
    """``root`` and everything below it, pid -> start time (which tells a reused pid apart)."""
    table = _processes()
    found = {root: table[root][2]} if root in table else {}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, start, _) in table.items():
            if ppid in found and pid not in found:
                found[pid] = start
                grew = True
    return found


def _until(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.skipif(not CORRECT.is_dir(), reason=f"bundled example {CORRECT} missing")
@pytest.mark.parametrize("jobs", ["2", "1"])  # worker processes, or this process itself
def test_ctrl_c_mid_batch_stops_cleanly(tmp_path: Path, jobs: str) -> None:
    names = [f"student{i}" for i in range(COPIES)]
    for name in names:
        shutil.copytree(CORRECT, tmp_path / "in" / name)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "grader", "grade", *(str(tmp_path / "in" / n) for n in names),
            "--jobs", jobs, "--sandbox", "process", "--assignment", "cs231n-2021",
            "--out", str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a shell's foreground job
    )  # fmt: skip
    seen: dict[int, str] = {}

    def finished_one_and_grading_another() -> bool:
        """At least one results.json, and a sandboxed child running (a descendant that leads
        its own session): the interrupt lands mid-batch, with sandboxes to tear down."""
        if proc.poll() is not None:
            pytest.fail(f"the batch ended before it could be interrupted:\n{proc.stderr}")
        tree = _descendants(proc.pid)
        seen.update(tree)
        table = _processes()
        sandboxed = [p for p in tree if p in table and table[p][1] == p != proc.pid]
        return bool(list(out.glob("*/results.json"))) and bool(sandboxed)

    try:
        _until(finished_one_and_grading_another, "a finished submission and a running one")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
        stdout, stderr = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    written = sorted(p.parent.name for p in out.glob("*/results.json"))
    assert written, stdout
    for name in written:
        doc = json.loads((out / name / "results.json").read_text())
        assert doc["score"] == 59.0
    not_graded = [n for n in names if n not in written]
    assert not_graded, "the interrupt came after the batch ended"
    assert f"interrupted: {len(not_graded)} submission(s) not graded: {', '.join(not_graded)}" in (
        stdout.splitlines()
    )
    assert (out / "index.html").is_file()

    def nothing_left() -> bool:
        table = _processes()
        alive = [p for p, start in seen.items() if p in table and table[p][2] == start]
        in_session = [p for p, (_, sid, _, _) in table.items() if sid == proc.pid]
        return not alive and not in_session

    _until(nothing_left, "every process of the batch to be gone (and reaped)")
    workers = int(jobs) if int(jobs) > 1 else 0
    assert len(seen) >= 2 + workers  # nngrader, its workers, at least one sandboxed child
