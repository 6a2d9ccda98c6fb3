"""What a sandbox start and teardown may skip, and what they never skip: the uid's release
marker, the one-scan settle, the reaping scan only where orphans can reach us, a kill that is not
repeated once nothing is left, and the gate that starts bwrap only inside the limits."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox, gate, reaping, uids
from grader.sandbox.gate import child_rlimits, spawn_gated
from grader.sandbox.uids import CLEAN, _field
from tests.grader.sandbox.test_isolation import MODES, needs_bwrap, needs_root

STATUS = (
    b"Name:\tUid: 0\nUmask:\t0022\nState:\tZ (zombie)\nTgid:\t7\nPid:\t7\n"
    b"Uid:\t61005\t61005\t61005\t61005\nGid:\t61005\t61005\t61005\t61005\n"
)
"""A /proc/PID/status whose process named itself ``Uid: 0`` (the kernel escapes newlines)."""


def test_status_fields_are_read_from_their_own_line() -> None:
    assert _field(STATUS, b"Uid:") == b"61005"
    assert _field(STATUS, b"State:") == b"Z"
    assert _field(STATUS, b"Name:") == b"Uid:"
    assert _field(STATUS, b"Groups:") == b""
    assert _field(b"Uid:\t3", b"Uid:") == b"3"  # the first line, no newline after it


class Sweeps:
    """Records the sweeps ``claim_uid`` runs (instead of touching a real uid)."""

    def __init__(self) -> None:
        self.kills: list[int] = []
        self.sweeps: list[int] = []

    def kill(self, uid: int, *_: object, **__: object) -> None:
        self.kills.append(uid)

    def sweep(self, uid: int, *_: object, **__: object) -> list[str]:
        self.sweeps.append(uid)
        return []


@pytest.fixture
def sweeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sweeps:
    """A private lock folder, and sweeps recorded, never run: the uids are other graders' too."""
    locks = tmp_path / "locks"
    monkeypatch.setattr(uids, "LOCK_DIR", locks)
    recorded = Sweeps()
    monkeypatch.setattr(uids, "kill_uid", recorded.kill)
    monkeypatch.setattr(uids, "sweep_leftovers", recorded.sweep)
    return recorded


def test_a_uid_released_clean_is_claimed_without_a_sweep(sweeps: Sweeps) -> None:
    uid, lock = uids.claim_uid()
    assert sweeps.kills == [uid] and sweeps.sweeps == [uid]  # a new file: who knows
    assert (uids.LOCK_DIR / f"uid-{uid}.lock").read_text() != CLEAN  # in use
    uids.release_uid(lock, clean=True)
    assert (uids.LOCK_DIR / f"uid-{uid}.lock").read_text() == CLEAN
    again, lock = uids.claim_uid()
    assert again == uid and sweeps.kills == [uid]  # nothing could have been left
    uids.release_uid(lock, clean=False)
    third, lock = uids.claim_uid()
    assert third == uid and sweeps.kills == [uid, uid] and sweeps.sweeps == [uid, uid]
    lock.close()


def test_a_holder_that_died_leaves_its_uid_to_be_swept(sweeps: Sweeps) -> None:
    uid, lock = uids.claim_uid()
    lock.close()  # as a killed grader's lock goes: no release, the file still says in use
    again, lock = uids.claim_uid()
    assert again == uid and sweeps.kills == [uid, uid]
    lock.close()


def test_a_claimed_uid_is_not_handed_out_twice(sweeps: Sweeps) -> None:
    first, lock = uids.claim_uid()
    second, other = uids.claim_uid()
    assert second != first
    uids.release_uid(lock, clean=True)
    uids.release_uid(other, clean=True)


def test_the_reaping_scan_runs_only_where_orphans_can_come_to_us() -> None:
    assert reaping.adopts_orphans() is (os.getpid() == 1)
    probe = textwrap.dedent(
        """
        import ctypes
        from grader.sandbox import reaping
        before = reaping.adopts_orphans()
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        print(before, reaping.adopts_orphans())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.stdout.split() == ["False", "True"]


def test_not_adopting_means_no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reaping, "adopts_orphans", lambda: False)
    monkeypatch.setattr(reaping, "adopted_zombies", lambda uid: pytest.fail("scanned /proc"))
    assert reaping.reap_adopted(61000) == 0


def test_the_rlimits_of_a_child() -> None:
    limits = Limits(cpu_seconds=7, max_open_files=99, max_processes=5)
    plain = dict(child_rlimits(limits, cgroup=True, uid=True))
    assert plain[resource.RLIMIT_CPU] == (7, 8)
    assert plain[resource.RLIMIT_NOFILE] == (99, 99)
    assert plain[resource.RLIMIT_CORE] == (0, 0)
    assert plain[resource.RLIMIT_NPROC] == (5 + gate.NPROC_MARGIN,) * 2
    assert resource.RLIMIT_AS not in plain  # the cgroup limits memory
    alone = dict(child_rlimits(limits, cgroup=False, uid=False))
    assert alone[resource.RLIMIT_AS] == (limits.memory_bytes,) * 2
    assert resource.RLIMIT_NPROC not in alone  # no sandbox uid to count


def test_a_gated_command_never_runs_when_its_limits_could_not_be_set(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def refuse(pid: int) -> None:
        raise OSError(f"cannot limit {pid}")

    with open(tmp_path / "out", "wb") as out, pytest.raises(OSError, match="cannot limit"):
        spawn_gated(
            ["/bin/touch", str(marker)],
            prepare=refuse,
            stdout=out,
            pass_fds=(),
            env={"PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
    assert not marker.exists()


def test_a_gated_command_runs_after_prepare_with_its_limits(tmp_path: Path) -> None:
    seen: list[int] = []

    def prepare(pid: int) -> None:
        seen.append(pid)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (77, 77))

    with open(tmp_path / "out", "wb") as out:
        proc = spawn_gated(
            [
                sys.executable,
                "-S",
                "-c",
                "import resource, sys; "
                "print(resource.getrlimit(resource.RLIMIT_NOFILE), sys.stdin.read() == '')",
            ],
            prepare=prepare,
            stdout=out,
            pass_fds=(),
            env={"PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
        )
    assert proc.wait(timeout=60) == 0
    assert seen == [proc.pid]  # the shell became the command: one process, one pid
    assert (tmp_path / "out").read_text().split() == ["(77,", "77)", "True"]  # stdin: /dev/null


@needs_root
@needs_bwrap
@pytest.mark.sandbox
def test_a_bwrap_child_as_root_is_gated_and_limited(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "scratch").mkdir()
    limits = Limits(max_open_files=123, cpu_seconds=40)
    code = "print(open('/proc/self/limits').read()); print(open('/proc/self/status').read())"
    with Sandbox(
        mode="bwrap",
        workspace=tmp_path / "ws",
        scratch=tmp_path / "scratch",
        ro_paths=[],
        limits=limits,
    ) as box:
        assert box._gated
        proc = box.spawn([sys.executable, "-S", "-c", code], stdout_path=tmp_path / "out")
        assert proc.wait(timeout=60) == 0
    out = (tmp_path / "out").read_text()
    rows = {" ".join(line.split()[:-3]): line.split()[-3:-1] for line in out.splitlines()[:17]}
    assert rows["Max open files"] == ["123", "123"]
    assert rows["Max cpu time"] == ["40", "41"]
    assert "NoNewPrivs:\t1" in out


@pytest.mark.parametrize("mode", MODES)
def test_a_second_kill_finds_nothing_to_do_until_the_next_spawn(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.sandbox import launch

    (tmp_path / "ws").mkdir()
    (tmp_path / "scratch").mkdir()
    settles: list[int] = []
    real = launch.settle_uid

    def counted(uid: int) -> bool:
        settles.append(uid)
        return real(uid)

    monkeypatch.setattr(launch, "settle_uid", counted)
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
    with Sandbox(
        mode=mode,
        workspace=tmp_path / "ws",
        scratch=tmp_path / "scratch",
        ro_paths=[],
        limits=Limits(cpu_seconds=20),
    ) as box:
        for _ in range(2):
            proc = box.spawn([sys.executable, "-S", "-c", daemon], stdout_path=tmp_path / "o")
            proc.wait(timeout=60)
            box.kill_all()
            assert box.uid is not None and uids.processes_of(box.uid, zombies=True) == []
            box.kill_all()  # nothing was started since: nothing to look for
        assert len(settles) == 2  # one per spawn, not one per call
