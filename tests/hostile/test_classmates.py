"""Classmates: a submission must not reach another's code, graded at the same time or later.

Issue 10, finding 7: under ``--sandbox process`` with ``--jobs 2`` a thief exec'd a concurrently
graded classmate's ``layers.py`` and scored full marks. As root, each submission now runs as its
own uid, its workspace is readable by that uid only, the grader's temp folders cannot be listed,
and teardown removes what the uid left in /tmp, /var/tmp, /dev/shm and System V IPC. Each attack
runs in both modes (process mode is the one without namespaces) and asserts the invariants of
``conftest.py``: (a) no more points than the same code without the attack, (b) what it found,
from the instructor log, (c) no process, cgroup or file of any sandbox uid left, and a bystander
process alive. The classmate is the bundled correct example, copied into a folder only root can
read (as an instructor's submissions folder should be).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader import api
from grader.sandbox.uids import UID_BASE, UID_SLOTS
from tests.hostile.conftest import (
    ASSIGNMENT,
    LIMITS,
    ROOT,
    Graded,
    _uid_in_use,
    make_submission,
    sandbox_leftovers,
    wait_for_no_leftovers,
)

pytestmark = pytest.mark.sandbox

CORRECT = ROOT / "examples" / ASSIGNMENT / "correct"
MODES = ["process", "bwrap"]
SHARED = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - the folders every uid can write
IPC_KINDS = ("shm", "sem", "msg")
WAIT = 4.0
"""Seconds the thief keeps looking for a classmate at each import."""


def shared_leftovers() -> set[str]:
    """Entries in the shared folders and System V IPC objects owned by a sandbox uid not in use.

    Sandbox uids can only create entries at the top of these folders or inside folders they own,
    so the top level (by owner, symlinks not followed) finds every one.
    """
    found = set()
    for top in SHARED:
        with os.scandir(top) as entries:
            for entry in entries:
                try:
                    uid = entry.stat(follow_symlinks=False).st_uid
                except OSError:
                    continue
                if UID_BASE <= uid < UID_BASE + UID_SLOTS and not _uid_in_use(uid):
                    found.add(entry.path)
    for kind in IPC_KINDS:
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        column = lines[0].split().index("uid")
        for line in lines[1:]:
            uid = int(line.split()[column])
            if UID_BASE <= uid < UID_BASE + UID_SLOTS and not _uid_in_use(uid):
                found.add(f"System V {kind} {line.split()[1]} of uid {uid}")
    return found


def grade_together(
    paths: list[Path], out: Path, *, sandbox: str, jobs: int, **limits: float
) -> list[Graded]:
    """Grade ``paths`` in one run (``jobs`` at a time) and assert invariant (c)."""
    before, files_before = sandbox_leftovers(), shared_leftovers()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        results = api.grade(
            paths,
            out=out,
            assignment=ASSIGNMENT,
            jobs=jobs,
            sandbox=sandbox,
            limits={**LIMITS, **limits},
        )
        left = wait_for_no_leftovers(before)
        assert bystander.poll() is None, "the attack killed a process outside the sandbox"
    finally:
        bystander.kill()
        bystander.wait()
    assert not left, f"left after grading: {sorted(left)}"
    assert not shared_leftovers() - files_before, "files of a sandbox uid outlived grading"
    docs = [
        Graded(
            json.loads((out / r.name / "results.json").read_text()),
            (out / r.name / "output.txt").read_text(errors="replace"),
        )
        for r in results
    ]
    for doc in docs:
        assert doc.doc["extra_data"]["isolation"] == sandbox
    return docs


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Path]:
    """A folder only root can enter, holding the classmate: the correct example."""
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    shutil.copytree(CORRECT, folder / "classmate")
    yield folder


# -- a thief searching for a classmate graded at the same time -----------------------------------

THIEF = f"""
import os, time
_nng_own = os.path.realpath(__file__)
_nng_top = _nng_own.rsplit(os.sep, 5)[0]  # the run's nngrader-* folder


def _nng_candidates():
    found = set()
    parts = _nng_own.split(os.sep)
    tops = [os.sep.join(parts[: i + 1]) for i, p in enumerate(parts) if p.startswith("nngrader-")]
    for top in tops[:1]:
        for base in (top, os.path.join(top, "work"), os.path.join(top, "intake")):
            for folder, _, names in os.walk(base):
                found |= {{os.path.join(folder, n) for n in names if n == "layers.py"}}
        for n in range(8):
            found.add(os.path.join(top, "work", str(n), "src", "cs231n", "layers.py"))
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        found.add(os.path.join("/proc", pid, "cwd", "..", "src", "cs231n", "layers.py"))
        found.add(os.path.join("/proc", pid, "root", *parts))
        try:
            args = open(os.path.join("/proc", pid, "cmdline"), "rb").read().split(b"\\0")
        except OSError:
            continue
        for arg in (a.decode(errors="replace") for a in args):
            if arg.endswith("__main__.py"):
                work = os.path.dirname(os.path.dirname(os.path.dirname(arg)))
                found.add(os.path.join(work, "src", "cs231n", "layers.py"))
    return found


def _nng_peek():
    # What else of the grader's folders can be read: listings, other submissions' logs.
    found = set()
    mine = os.path.dirname(os.path.dirname(os.path.dirname(_nng_own)))  # .../work/<n>
    work = os.path.dirname(mine)
    # (bwrap makes the parents of its binds: listable, holding only this submission's folder)
    reads = [("LISTED", lambda: bool(set(os.listdir(work)) - {{os.path.basename(mine)}}))]
    for n in range(8):
        log = os.path.join(work, str(n), "output.txt")
        if os.path.dirname(log) != mine:
            reads.append(("READ-LOG", lambda log=log: open(log).close() is None))
    for what, read in reads:
        try:
            if read():
                found.add(what)
        except OSError:
            pass
    return found


_nng_saw_own, _nng_stolen, _nng_end = False, None, time.monotonic() + {WAIT}
_nng_peeked = set()
while _nng_stolen is None and time.monotonic() < _nng_end:
    _nng_peeked |= _nng_peek()
    for _nng_path in sorted(_nng_candidates()):
        try:
            if os.path.realpath(_nng_path) == _nng_own:
                _nng_saw_own = True
                continue
            with open(_nng_path) as _nng_f:
                _nng_text = _nng_f.read()
            # Only this run's classmates: other graders on the machine may run older code.
            _nng_ours = os.path.realpath(_nng_path).startswith(_nng_top + os.sep)
        except OSError:
            continue
        if _nng_ours and "def affine_forward" in _nng_text:
            _nng_stolen = (_nng_path, _nng_text)
            break
    else:
        time.sleep(0.2)
print("NNG-SAW-OWN" if _nng_saw_own else "NNG-DID-NOT-SEE-OWN")
for _nng_what in sorted(_nng_peeked):
    print("NNG-CLASSMATE-" + _nng_what)
if _nng_stolen:
    print("NNG-STOLE", _nng_stolen[0])
    exec(compile(_nng_stolen[1], _nng_stolen[0], "exec"), globals())
else:
    print("NNG-STOLE-NOTHING")
"""


@pytest.mark.parametrize("sandbox", MODES)
def test_a_thief_cannot_read_a_classmate_graded_at_the_same_time(
    tmp_path: Path, private: Path, base_score: float, sandbox: str
) -> None:
    thief = make_submission(private / "thief", at_end=THIEF)
    classmate, stolen = grade_together(
        [private / "classmate", thief],
        tmp_path / "out",
        sandbox=sandbox,
        jobs=2,
        check_seconds=3 * WAIT,
    )
    assert classmate.score == classmate.doc["extra_data"]["max_score"], (
        "the classmate itself is correct"
    )
    assert "NNG-SAW-OWN" in stolen.log, "the search must reach the thief's own workspace"
    assert "NNG-STOLE " not in stolen.log, stolen.log[:2000]
    assert "NNG-STOLE-NOTHING" in stolen.log
    assert "NNG-CLASSMATE-" not in stolen.log, stolen.log[:2000]  # no listing, no one else's log
    assert stolen.score <= base_score  # (a)


def test_the_process_mode_report_says_how_classmates_are_kept_apart(
    tmp_path: Path, private: Path
) -> None:
    (doc,) = grade_together([private / "classmate"], tmp_path / "out", sandbox="process", jobs=1)
    notes = " ".join(doc.doc["extra_data"]["notes"])
    assert "isolation was OFF" in notes
    assert "not running as root" not in notes  # the uid drop applied, so no protection is missing


# -- leftovers in /tmp, /var/tmp, /dev/shm and System V shared memory ----------------------------


def dropper(token: str, decoy: Path) -> str:
    """Code that leaves its own layers.py, readable by all, wherever a later submission looks."""
    key = int(token[:7], 16)
    return f"""
import ctypes, os
_nng_text = open(__file__, "rb").read()
for _nng_top in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        _nng_dir = os.path.join(_nng_top, "nng-drop-{token}")
        os.makedirs(os.path.join(_nng_dir, "deeper"), exist_ok=True)
        for _nng_path in (_nng_dir + ".py", os.path.join(_nng_dir, "deeper", "layers.py")):
            with open(_nng_path, "wb") as _nng_f:
                _nng_f.write(_nng_text)
            os.chmod(_nng_path, 0o644)
        os.chmod(os.path.join(_nng_dir, "deeper"), 0o755)
        os.chmod(_nng_dir, 0o777)
        if not os.path.lexists(os.path.join(_nng_dir, "decoy")):
            os.symlink({str(decoy)!r}, os.path.join(_nng_dir, "decoy"))
        print("NNG-DROPPED", _nng_top)
    except OSError as _nng_exc:
        print("NNG-NOT-DROPPED", _nng_top, _nng_exc)
_nng_libc = ctypes.CDLL(None, use_errno=True)
_nng_libc.shmat.restype = ctypes.c_void_p
_nng_id = _nng_libc.shmget({key}, 1 << 16, 0o1666)
if _nng_id >= 0:
    ctypes.memmove(_nng_libc.shmat(_nng_id, None, 0), _nng_text, len(_nng_text))
    print("NNG-DROPPED shm")
"""


def reader(token: str) -> str:
    """Code that looks where the dropper left its files and exec's the first it can read."""
    key = int(token[:7], 16)
    return f"""
import ctypes, os
_nng_found = None
for _nng_top in ("/tmp", "/var/tmp", "/dev/shm"):
    _nng_dir = os.path.join(_nng_top, "nng-drop-{token}")
    for _nng_path in (_nng_dir + ".py", os.path.join(_nng_dir, "deeper", "layers.py")):
        try:
            _nng_found = _nng_found or open(_nng_path).read()
        except OSError:
            pass
_nng_libc = ctypes.CDLL(None, use_errno=True)
_nng_libc.shmat.restype = ctypes.c_void_p
_nng_id = _nng_libc.shmget({key}, 0, 0)
if _nng_found is None and _nng_id >= 0:
    _nng_at = _nng_libc.shmat(_nng_id, None, 0o10000)
    if _nng_at not in (None, ctypes.c_void_p(-1).value):
        _nng_found = ctypes.string_at(_nng_at).decode(errors="replace")
if _nng_found and "def affine_forward" in _nng_found:
    print("NNG-PICKED-UP")
    exec(compile(_nng_found, "dropped", "exec"), globals())
else:
    print("NNG-NOTHING-LEFT")
"""


@pytest.mark.parametrize("sandbox", MODES)
def test_nothing_a_submission_leaves_in_shared_folders_reaches_the_next(
    tmp_path: Path, private: Path, base_score: float, sandbox: str
) -> None:
    token = secrets.token_hex(8)
    decoy = Path("/tmp") / f"nng-decoy-{token}"  # noqa: S108 - a root file the sweep must keep
    decoy.write_text("root's own file, linked to by the dropper")
    try:
        code = (private / "classmate" / "cs231n" / "layers.py").read_text()
        (private / "classmate" / "cs231n" / "layers.py").write_text(
            dropper(token, decoy) + "\n" + code
        )
        dropped, picked = grade_together(
            [private / "classmate", make_submission(private / "reader", at_end=reader(token))],
            tmp_path / "out",
            sandbox=sandbox,
            jobs=1,  # one after the other: the reader may even get the dropper's uid
        )
        assert decoy.read_text().startswith("root's own file"), "the sweep followed a symlink"
    finally:
        decoy.unlink()
    assert dropped.score == dropped.doc["extra_data"]["max_score"]
    if sandbox == "process":  # the drop really happened (in bwrap only into its own /tmp)
        assert "NNG-DROPPED /tmp" in dropped.log and "NNG-DROPPED shm" in dropped.log
    assert "NNG-NOTHING-LEFT" in picked.log and "NNG-PICKED-UP" not in picked.log
    assert picked.score <= base_score  # (a)


# -- the grader's own processes ------------------------------------------------------------------

PROC = """
import os
_nng_secret, _nng_own = SECRET, os.getuid()
_nng_others = _nng_found = 0
for _nng_pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        _nng_uid = os.stat(f"/proc/{_nng_pid}").st_uid
        with open(f"/proc/{_nng_pid}/environ", "rb") as _nng_f:
            _nng_env = _nng_f.read().decode(errors="replace")
    except OSError:
        continue
    _nng_others += _nng_uid != _nng_own
    _nng_found += _nng_secret in _nng_env
print("NNG-ENVIRON others", _nng_others, "found", _nng_found)
"""


@pytest.mark.parametrize("sandbox", MODES)
def test_no_environment_of_the_grader_or_a_classmate_is_readable(
    tmp_path: Path, private: Path, base_score: float, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "NNG-SECRET-" + secrets.token_hex(12)
    monkeypatch.setenv("NNGRADER_HOSTILE_SECRET", secret)  # inherited by the grading workers
    code = PROC.replace("SECRET", f"bytes.fromhex({secret.encode().hex()!r}).decode()")
    snoop = make_submission(private / "snoop", at_import=code)
    _, doc = grade_together(
        [private / "classmate", snoop], tmp_path / "out", sandbox=sandbox, jobs=2
    )
    assert "NNG-ENVIRON others 0 found 0" in doc.log, doc.log[:2000]
    assert secret not in doc.log and secret not in doc.report
    assert doc.score <= base_score  # (a)
