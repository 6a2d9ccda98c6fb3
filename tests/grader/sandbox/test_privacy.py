"""Submissions kept apart: workspace permissions, the umask, and the sweep of shared folders.

As root each sandbox runs as its own uid; its workspace is readable by that uid alone, and what
the uid leaves in /tmp, /var/tmp, /dev/shm or System V IPC is removed at teardown
(``grader.sandbox.access``, ``grader.sandbox.leftovers``). Without root in process mode the report
says these protections did not apply.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox
from grader.sandbox.access import NOT_KEPT_APART
from grader.sandbox.leftovers import ipc_of, sweep_leftovers
from tests.grader.sandbox.test_isolation import MODES, needs_bwrap, needs_root

SHARED = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - where the child may leave files
UID, OTHER = 61990, 61991
"""Sandbox-range uids the sweep tests plant files for (no process runs as them)."""


def plant(path: Path, uid: int, *, folder: bool = False, mode: int = 0o644) -> Path:
    """Create a file (or folder) at ``path`` owned by ``uid``."""
    if folder:
        path.mkdir()
    else:
        path.write_text("left behind")
    os.lchown(path, uid, uid)
    path.chmod(mode)
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder like /tmp (world-writable, sticky), swept instead of the real ones."""
    top = tmp_path / "shared"
    top.mkdir()
    top.chmod(0o1777)
    return top


@needs_root
def test_the_sweep_removes_the_uids_entries_and_nothing_else(tmp_path: Path, shared: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("root's")
    mine = plant(shared / "mine", UID, folder=True, mode=0o777)
    plant(mine / "secret.py", UID, mode=0o000)
    plant(plant(mine / "deep", UID, folder=True, mode=0o000) / "x", UID)
    plant(mine / "by-other", OTHER)  # another uid's file in a folder the uid owns: goes with it
    plant(shared / "file.py", UID)
    link = shared / "link"
    link.symlink_to(outside)
    os.lchown(link, UID, UID)
    os.mkfifo(shared / "fifo")
    os.lchown(shared / "fifo", UID, UID)
    theirs = plant(shared / "theirs", OTHER, folder=True, mode=0o777)
    plant(theirs / "mine-inside", UID)  # in a world-writable folder of someone else: removed
    plant(theirs / "their-file", OTHER)
    closed = shared / "roots"
    closed.mkdir(mode=0o755)  # nobody else can create anything in it: not looked into
    plant(closed / "chowned", UID)
    scratch = plant(shared / "scratch", UID, folder=True, mode=0o700)

    assert sweep_leftovers(UID, keep=[scratch], tops=[str(shared)]) == []
    assert sorted(p.name for p in shared.iterdir()) == ["roots", "scratch", "theirs"]
    assert [p.name for p in theirs.iterdir()] == ["their-file"]
    assert (closed / "chowned").exists() and outside.read_text() == "root's"


@needs_root
def test_a_sweep_out_of_budget_says_so_and_closes_what_is_left(shared: Path) -> None:
    mine = plant(shared / "mine", UID, folder=True, mode=0o777)
    for n in range(5):
        plant(mine / f"f{n}", UID)
    notes = sweep_leftovers(UID, tops=[str(shared)], max_entries=3)
    assert notes and f"sandbox uid {UID}" in notes[0] and str(shared) in notes[0]
    left = mine.stat()
    assert (left.st_uid, left.st_gid, stat.S_IMODE(left.st_mode)) == (0, UID, 0o700)  # taken over
    assert sweep_leftovers(UID, tops=[str(shared)]) == [] and not mine.exists()


# -- two sandboxes at once ---------------------------------------------------------------------


def folders(base: Path, name: str) -> tuple[Path, Path]:
    """A workspace holding a secret layers.py and a scratch folder, laid out as ``stage`` does."""
    work = base / name
    work.mkdir(mode=0o700)
    (work / "src").mkdir()
    (work / "src" / "layers.py").write_text(f"SECRET = {name!r}\n")
    (work / "scratch").mkdir()
    return work / "src", work / "scratch"


def run_in(box: Sandbox, code: str, out: Path) -> str:
    proc = box.spawn([sys.executable, "-S", "-B", "-c", textwrap.dedent(code)], stdout_path=out)
    proc.wait(timeout=60)
    return out.read_text()


PEEK = """
import os
for what, call in (
    ("read", lambda p: open(p).read()), ("list", os.listdir), ("write", lambda p: open(p, "a"))
):
    for path in PATHS:
        try:
            call(path)
            print("CAN", what, path)
        except OSError as exc:
            print("CANNOT", what, path, type(exc).__name__)
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_child_cannot_reach_another_sandboxs_workspace_or_scratch(
    tmp_path: Path, mode: str
) -> None:
    base = tmp_path / "grader"
    base.mkdir(mode=0o700)
    ws_a, scratch_a = folders(base, "0")
    ws_b, scratch_b = folders(base, "1")
    (scratch_a / "note").write_text("a's scratch")
    limits = Limits(cpu_seconds=20)
    with (
        Sandbox(mode=mode, workspace=ws_a, scratch=scratch_a, ro_paths=[], limits=limits) as a,
        Sandbox(mode=mode, workspace=ws_b, scratch=scratch_b, ro_paths=[], limits=limits) as b,
    ):
        assert a.uid != b.uid
        theirs = [ws_a, ws_a / "layers.py", scratch_a, scratch_a / "note", base / "0"]
        theirs += [base] if mode == "process" else []  # bwrap makes the parents of its own binds
        seen = run_in(b, PEEK.replace("PATHS", repr([str(p) for p in theirs])), tmp_path / "b")
        own = run_in(a, PEEK.replace("PATHS", repr([str(ws_a / "layers.py")])), tmp_path / "a")
    assert "CAN " not in seen, seen
    if mode == "bwrap":  # only its own folders are bound: the others do not even exist
        assert f"CANNOT read {ws_a / 'layers.py'} FileNotFoundError" in seen, seen
    assert f"CAN read {ws_a / 'layers.py'}" in own and "CAN write" not in own, own
    info = (ws_a / "layers.py").stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o640)  # root's: the child can't chmod


LITTER = """
import ctypes, os
for top in ("/tmp", "/var/tmp", "/dev/shm"):
    path = os.path.join(top, "nng-litter-TOKEN")
    try:
        open(path, "w").write("left")
        print("MODE", top, oct(os.stat(path).st_mode & 0o777))
    except OSError as exc:
        print("REFUSED", top, type(exc).__name__)
libc = ctypes.CDLL(None)
print("SHM", libc.shmget(0x4E4E47, 4096, 0o1666))
"""


@pytest.mark.parametrize("mode", MODES)
def test_what_a_child_leaves_in_shared_places_is_private_and_removed(
    tmp_path: Path, mode: str
) -> None:
    token = secrets.token_hex(6)
    ws, scratch = folders(tmp_path, "0")
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=Limits()) as box:
        out = run_in(box, LITTER.replace("TOKEN", token), tmp_path / "out")
        uid = box.uid
    assert uid is not None
    litter = [Path(top) / f"nng-litter-{token}" for top in SHARED]
    assert not [p for p in litter if p.exists()], out
    assert not ipc_of(uid, "shm"), out
    if mode == "process":  # the machine's folders, written as the uid, private by default
        assert out.count("MODE") == 3 and "0o644" not in out and "SHM -1" not in out, out
    else:  # bwrap: its /tmp and /dev/shm are its own and root's, /var/tmp is not there
        assert "MODE" not in out, out


@pytest.mark.parametrize("mode", ["process", pytest.param("bwrap", marks=needs_bwrap)])
def test_without_root_the_report_says_submissions_were_not_kept_apart(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    ws, scratch = folders(tmp_path, "0")
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=Limits()) as box:
        notes = list(box.limit_notes)
    assert (NOT_KEPT_APART in notes) == (mode == "process"), notes
    assert "not running as root" in " ".join(notes)
