"""The disk limit (scratch as a limited tmpfs), the bwrap options it and the seccomp filter need,
and that grading leaves no child process of ours behind, zombies included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox
from grader.sandbox.bwrap import bwrap_args
from grader.sandbox.features import bwrap_options, parse_help
from grader.sandbox.scratch import ScratchDisk
from tests.grader.sandbox.test_isolation import MODES

ROOT = Path(__file__).resolve().parents[3]
TMP = "/" + "tmp"  # inside the sandbox: bwrap's own tmpfs
OLD_HELP = """usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]

    --help                       Print this help
    --unshare-user               Create new user namespace
    --tmpfs DEST                 Mount new tmpfs on DEST
    --seccomp FD                 Load and use seccomp rules from FD
"""
"""The help of a bwrap older than 0.8.0: no --size, no --disable-userns."""


def test_bwrap_help_is_parsed_into_options() -> None:
    old = parse_help(OLD_HELP)
    assert {"--help", "--unshare-user", "--tmpfs", "--seccomp"} == old
    assert "--size" not in old and "COMMAND" not in str(old)


@pytest.mark.skipif(not bwrap_options(), reason="no bwrap here")
def test_the_installed_bwrap_is_probed() -> None:
    options = bwrap_options()
    assert {"--ro-bind", "--tmpfs", "--unshare-pid", "--die-with-parent"} <= options


def _args(**kwargs: object) -> list[str]:
    base = {"workspace": Path("/w/ws"), "scratch": Path("/w/sc"), "ro_paths": [], "uid": None}
    return bwrap_args(**{**base, **kwargs})  # type: ignore[arg-type]


def _after(args: list[str], *seq: str) -> bool:
    """Whether ``seq`` occurs in ``args`` as a contiguous run."""
    return any(args[i : i + len(seq)] == list(seq) for i in range(len(args)))


def test_bwrap_args_size_tmp_and_scratch_and_pass_the_filter() -> None:
    plain = _args()
    assert _after(plain, "--tmpfs", TMP) and not _after(plain, "--size")
    assert _after(plain, "--bind", "/w/sc", "/w/sc") and "--seccomp" not in plain
    sized = _args(tmpfs_bytes=2**20, seccomp_fd=9)
    assert _after(sized, "--size", str(2**20), "--tmpfs", TMP)
    assert _after(sized, "--bind", "/w/sc", "/w/sc")  # as root: our own mount, bound
    assert _after(sized, "--seccomp", "9", "--chdir", "/w/sc", "--")
    own = _args(tmpfs_bytes=2**20, scratch_tmpfs=True)
    assert _after(own, "--perms", "0700", "--size", str(2**20), "--tmpfs", "/w/sc")
    assert not _after(own, "--bind", "/w/sc", "/w/sc")


def test_a_full_disk_is_named_from_the_errno() -> None:
    limits = Limits(disk_bytes=3 * 2**20)
    assert limits.disk_files() == 192
    assert limits.limit_of_error("OSError: [Errno 28] No space left on device") == (
        "disk limit (3 MiB, 192 files) exceeded"
    )
    assert Limits(disk_bytes=2**10).disk_files() == 64  # a few files even on a tiny disk


@pytest.mark.parametrize(
    ("isolation", "bwrap_size", "in_bwrap", "said"),
    [
        ("bwrap", True, True, "scratch is a tmpfs of bwrap's"),
        ("bwrap", False, False, "no disk limit: not running as root and bwrap lacks --size"),
        ("process", False, False, "no disk limit: not running as root and process mode"),
    ],
)
def test_without_root_the_disk_limit_falls_back_and_says_so(
    tmp_path: Path, isolation: str, bwrap_size: bool, in_bwrap: bool, said: str
) -> None:
    disk = ScratchDisk.open(
        tmp_path, limits=Limits(), uid=None, isolation=isolation, bwrap_size=bwrap_size
    )
    assert not disk.mounted and disk.in_bwrap == in_bwrap
    assert disk.note is not None and said in disk.note
    assert _mounts_under(tmp_path) == []


def _mounts_under(folder: Path) -> list[str]:
    """Mount points at or below ``folder`` (other graders on this machine mount elsewhere)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    points = [Path(line.split()[4]) for line in lines]
    return [str(p) for p in points if p == folder or p.is_relative_to(folder)]


@pytest.mark.parametrize("mode", MODES)
def test_scratch_is_limited_shared_with_the_host_and_unmounted(tmp_path: Path, mode: str) -> None:
    ws, scratch, out = tmp_path / "ws", tmp_path / "scratch", tmp_path / "out.txt"
    ws.mkdir()
    scratch.mkdir()
    code = """
        import os
        def fill(make):
            n = 0
            try:
                while True:
                    make(n)
                    n += 1
            except OSError as exc:
                return n, exc.errno
        def big(n):
            with open(f"big{n}", "wb") as f:
                f.write(b"x" * 2**20)
        print("bytes", *fill(big))
        for name in os.listdir("."):
            os.unlink(name)
        print("files", *fill(lambda n: open(f"e{n}", "w").close()))
    """
    limits = Limits(disk_bytes=4 * 2**20, cpu_seconds=20)
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=limits) as box:
        argv = [sys.executable, "-S", "-B", "-c", textwrap.dedent(code)]
        assert box.spawn(argv, stdout_path=out).wait(timeout=60) == 0, out.read_text()
        assert _mounts_under(scratch) == [str(scratch)]
        assert len(os.listdir(scratch)) == 256 - 1  # the tmpfs root is one of the 256 inodes
        said = out.read_text().split()
        # 4 MiB hold 4 files of 1 MiB (folders cost no blocks); 256 inodes hold 255 files.
        assert said == ["bytes", "4", "28", "files", "255", "28"], said
    assert _mounts_under(scratch) == [] and os.listdir(scratch) == []


def _zombie_children() -> list[str]:
    """Children of this process that exited and were not waited for."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        state, ppid = rest.split()[:2]
        if int(ppid) == os.getpid() and state in ("Z", "X"):
            found.append(f"{entry} ({name})")
    return found


@pytest.mark.parametrize("mode", MODES)
def test_grading_leaves_no_child_of_ours_not_even_a_zombie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from grader import api

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the grader's workdir goes there
    example = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
    before = _zombie_children()
    (result,) = api.grade([example], out=tmp_path / "out", assignment="cs231n-2021", sandbox=mode)
    assert result.score > 0
    assert _zombie_children() == before
    assert _mounts_under(tmp_path) == []


ADOPTING_GRADER = """
import ctypes, json, shutil, sys, tempfile
from pathlib import Path
from grader import api
from tests.grader.sandbox.test_disk_and_reaping import _zombie_children

# As PID 1 of a container, or as a subreaper, the grader adopts every orphan of its tree.
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
example, mode, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
sub = work / "killpg"
shutil.copytree(example, sub)
layers = sub / "cs231n" / "layers.py"
layers.write_text(layers.read_text() + '''
_original_affine_forward = affine_forward
def affine_forward(x, w, b):
    import os, signal
    os.killpg(0, signal.SIGKILL)  # bwrap's outer process too: its namespace's init is orphaned
''')
api.grade([sub], out=work / "out", assignment="cs231n-2021", sandbox=mode,
          limits={"check_seconds": 5.0})
print(json.dumps(_zombie_children()))
"""


@pytest.mark.parametrize("mode", MODES)
def test_an_adopting_grader_reaps_the_orphaned_bwrap_init(tmp_path: Path, mode: str) -> None:
    example = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
    done = subprocess.run(
        [sys.executable, "-c", ADOPTING_GRADER, str(example), mode, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
