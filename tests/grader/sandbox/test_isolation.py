"""The sandbox, directly: isolation, uid drop, limits and cleanup (small limits, fast)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import Limits, Sandbox, SandboxUnavailable, available_modes, resolve_mode

ROOT_AND_CGROUP = os.geteuid() == 0
BWRAP = available_modes()["bwrap"] is None
needs_root = pytest.mark.skipif(not ROOT_AND_CGROUP, reason="needs root to drop to the sandbox uid")
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"bwrap unusable: {available_modes()['bwrap']}")
MODES = [pytest.param("process", marks=needs_root), pytest.param("bwrap", marks=[needs_root, needs_bwrap, pytest.mark.sandbox])]


class Ran:
    """What one sandboxed run left: exit code, output, the limit hit, the sandbox uid."""

    def __init__(self, code: int, out: str, hit: str | None, uid: int | None, cgroup: bool) -> None:
        self.code, self.out, self.hit, self.uid, self.cgroup = code, out, hit, uid, cgroup


def run(tmp_path: Path, mode: str, code: str, limits: Limits | None = None, timeout: float = 30) -> Ran:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    out = tmp_path / "out.txt"
    out.write_text("")
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=limits or Limits(cpu_seconds=10)) as box:
        proc = box.spawn([sys.executable, "-s", "-c", textwrap.dedent(code)], stdout_path=out)
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            box.kill_all()
        return Ran(rc, out.read_text(errors="replace"), box.limit_hit(), box.uid, box.cgroup is not None)


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("outside")
    folder.chmod(0o777)
    (folder / "secret.txt").write_text("secret")
    (folder / "secret.txt").chmod(0o666)
    return folder


@pytest.mark.parametrize("mode", MODES)
def test_runs_numpy_as_an_unprivileged_uid(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, """
        import os, numpy
        print("uid", os.getuid(), os.geteuid(), numpy.__version__)
        open("note.txt", "w").write("scratch is writable")
    """)
    assert ran.code == 0, ran.out
    uid = int(ran.out.split()[1])
    assert uid == ran.uid and uid >= 61000 and int(ran.out.split()[2]) == uid
    assert (tmp_path / "scratch" / "note.txt").exists()


@pytest.mark.sandbox
@needs_root
@needs_bwrap
def test_bwrap_hides_the_host(tmp_path: Path, outside: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    ran = run(tmp_path, "bwrap", f"""
        import os
        for path in ({str(outside / 'secret.txt')!r}, {str(repo / 'reference' / 'layers.py')!r}, "/root/.bashrc"):
            try:
                open(path).read()
                print("READ", path)
            except OSError:
                print("blocked", path)
        try:
            open({str(outside / 'new.txt')!r}, "w").write("x")
            print("WROTE")
        except OSError:
            print("blocked write")
        try:
            open({str(tmp_path / 'ws' / 'x.py')!r}, "w").write("x")
            print("WROTE WORKSPACE")
        except OSError:
            print("workspace read-only")
    """)
    assert ran.code == 0, ran.out
    assert "READ" not in ran.out and "WROTE" not in ran.out
    assert "workspace read-only" in ran.out
    assert not (outside / "new.txt").exists()


@pytest.mark.sandbox
@needs_root
@needs_bwrap
def test_bwrap_has_no_network(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    ran = run(tmp_path, "bwrap", f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("CONNECTED")
        except OSError as exc:
            print("no network", type(exc).__name__)
    """)
    with pytest.raises(OSError):
        server.accept()
    server.close()
    assert "CONNECTED" not in ran.out and "no network" in ran.out


@pytest.mark.parametrize("mode", MODES)
def test_memory_limit(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, """
        blocks = []
        while True:
            blocks.append(bytearray(32 * 1024 * 1024))
    """, Limits(memory_bytes=300 * 1024**2, cpu_seconds=20))
    assert ran.code != 0
    if ran.cgroup:
        assert ran.hit is not None and "memory" in ran.hit


@pytest.mark.parametrize("mode", MODES)
def test_fork_bomb_is_contained(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, """
        import os, time
        made = 0
        for _ in range(200):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                made += 1
            except OSError:
                break
        print("forked", made)
    """, Limits(max_processes=16, cpu_seconds=10), timeout=30)
    assert int(ran.out.split()[-1]) < 20
    assert not _processes_of(ran.uid)


@pytest.mark.parametrize("mode", MODES)
def test_double_forked_daemon_is_killed(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        time.sleep(0.5)
    """)
    assert ran.code == 0
    assert not _processes_of(ran.uid)


@pytest.mark.parametrize("mode", MODES)
def test_cpu_and_file_size_limits(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, "while True:\n    pass\n", Limits(cpu_seconds=1))
    assert "CPU" in (ran.hit or "")
    ran = run(tmp_path, mode, "open('big', 'wb').write(bytes(8 * 1024 * 1024))\n", Limits(max_file_bytes=1024 * 1024))
    # Python ignores SIGXFSZ, so the write itself fails with EFBIG and says so.
    assert ran.code != 0 and "File too large" in ran.out


@pytest.mark.parametrize("mode", MODES)
def test_kill_minus_one_cannot_reach_the_grader(tmp_path: Path, mode: str) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run(tmp_path, mode, "import os, signal\nos.kill(-1, signal.SIGKILL)\n")
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("mode", MODES)
def test_inherited_channel_works(tmp_path: Path, mode: str) -> None:
    read_fd, write_fd = os.pipe()
    ws, scratch = tmp_path / "ws", tmp_path / "scratch"
    ws.mkdir()
    scratch.mkdir()
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=Limits()) as box:
        proc = box.spawn([sys.executable, "-s", "-c", f"import os; os.write({write_fd}, b'hello')"],
                         pass_fds=(write_fd,), stdout_path=tmp_path / "out.txt")
        os.close(write_fd)
        proc.wait(timeout=30)
        assert os.read(read_fd, 100) == b"hello"
    os.close(read_fd)


def test_auto_refuses_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.sandbox import launch

    monkeypatch.setattr(launch, "_bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SandboxUnavailable, match="--sandbox process"):
        resolve_mode("auto")
    assert resolve_mode("process") == "process"


def _processes_of(uid: int | None) -> list[int]:
    from grader.sandbox.launch import processes_of

    return [] if uid is None else processes_of(uid)
