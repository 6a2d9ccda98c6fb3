"""The sandbox, directly: isolation, uid drop, limits and cleanup (small limits, fast).

Tests that need root (and bwrap) carry the ``sandbox`` mark: they skip where it is unusable, and
fail instead under ``NNGRADER_REQUIRE_SANDBOX=1`` (see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from site import getsitepackages

import pytest

from grader.sandbox import Limits, Sandbox, SandboxUnavailable, available_modes, resolve_mode

ROOT_AND_CGROUP = os.geteuid() == 0
BWRAP = available_modes()["bwrap"] is None
needs_root = pytest.mark.skipif(not ROOT_AND_CGROUP, reason="needs root to drop to the sandbox uid")
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"bwrap unusable: {available_modes()['bwrap']}")
MODES = [
    pytest.param("process", marks=[needs_root, pytest.mark.sandbox]),
    pytest.param("bwrap", marks=[needs_root, needs_bwrap, pytest.mark.sandbox]),
]


class Ran:
    """What one sandboxed run left: exit code, output, the limit hit, the sandbox uid, and the
    names in scratch before teardown (scratch is a tmpfs that goes with the sandbox)."""

    def __init__(self, code: int, out: str, hit: str | None, uid: int | None, cgroup: bool) -> None:
        self.code, self.out, self.hit, self.uid, self.cgroup = code, out, hit, uid, cgroup
        self.scratch: list[str] = []


def run(
    tmp_path: Path, mode: str, code: str, limits: Limits | None = None, timeout: float = 30
) -> Ran:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    out = tmp_path / "out.txt"
    out.write_text("")
    with Sandbox(
        mode=mode,
        workspace=ws,
        scratch=scratch,
        ro_paths=[],
        limits=limits or Limits(cpu_seconds=10),
    ) as box:
        proc = box.spawn([sys.executable, "-s", "-c", textwrap.dedent(code)], stdout_path=out)
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            box.kill_all()
        ran = Ran(
            rc, out.read_text(errors="replace"), box.limit_hit(), box.uid, box.cgroup is not None
        )
        ran.scratch = sorted(p.name for p in scratch.iterdir())
        return ran


def run_each(
    tmp_path: Path, mode: str, codes: list[str], limits: Limits
) -> list[tuple[int, str | None]]:
    """Run several children one after another in one sandbox: (exit code, limit hit) of each."""
    ws, scratch = tmp_path / "ws", tmp_path / "scratch"
    ws.mkdir(exist_ok=True)
    scratch.mkdir(exist_ok=True)
    out = []
    with Sandbox(mode=mode, workspace=ws, scratch=scratch, ro_paths=[], limits=limits) as box:
        for code in codes:
            proc = box.spawn(
                [sys.executable, "-S", "-B", "-c", textwrap.dedent(code)],
                stdout_path=tmp_path / "out.txt",
            )
            try:
                rc = proc.wait(timeout=60)
            finally:
                box.kill_all()
            out.append((rc, box.limit_hit()))
    return out


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("outside")
    folder.chmod(0o777)
    (folder / "secret.txt").write_text("secret")
    (folder / "secret.txt").chmod(0o666)
    return folder


@pytest.mark.parametrize("mode", MODES)
def test_runs_numpy_as_an_unprivileged_uid(tmp_path: Path, mode: str) -> None:
    ran = run(
        tmp_path,
        mode,
        """
        import os, numpy
        print("uid", os.getuid(), os.geteuid(), numpy.__version__)
        open("note.txt", "w").write("scratch is writable")
    """,
    )
    assert ran.code == 0, ran.out
    uid = int(ran.out.split()[1])
    assert uid == ran.uid and uid >= 61000 and int(ran.out.split()[2]) == uid
    assert "note.txt" in ran.scratch


@pytest.mark.sandbox
@needs_root
@needs_bwrap
def test_bwrap_hides_the_host(tmp_path: Path, outside: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    ran = run(
        tmp_path,
        "bwrap",
        f"""
        import os
        paths = ({str(outside / "secret.txt")!r}, {str(repo / "reference" / "layers.py")!r})
        for path in (*paths, "/root/.bashrc"):
            try:
                open(path).read()
                print("READ", path)
            except OSError:
                print("blocked", path)
        try:
            open({str(outside / "new.txt")!r}, "w").write("x")
            print("WROTE")
        except OSError:
            print("blocked write")
        try:
            open({str(tmp_path / "ws" / "x.py")!r}, "w").write("x")
            print("WROTE WORKSPACE")
        except OSError:
            print("workspace read-only")
    """,
    )
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
    ran = run(
        tmp_path,
        "bwrap",
        f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("CONNECTED")
        except OSError as exc:
            print("no network", type(exc).__name__)
    """,
    )
    with pytest.raises(OSError):
        server.accept()
    server.close()
    assert "CONNECTED" not in ran.out and "no network" in ran.out


@pytest.mark.parametrize("mode", MODES)
def test_memory_limit(tmp_path: Path, mode: str) -> None:
    ran = run(
        tmp_path,
        mode,
        """
        blocks = []
        while True:
            blocks.append(bytearray(32 * 1024 * 1024))
    """,
        Limits(memory_bytes=300 * 1024**2, cpu_seconds=20),
    )
    assert ran.code != 0
    if ran.cgroup:
        assert ran.hit is not None and "memory" in ran.hit


@pytest.mark.parametrize("mode", MODES)
def test_fork_bomb_is_contained(tmp_path: Path, mode: str) -> None:
    ran = run(
        tmp_path,
        mode,
        """
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
    """,
        Limits(max_processes=16, cpu_seconds=10),
        timeout=30,
    )
    assert int(ran.out.split()[-1]) < 20
    assert not _processes_of(ran.uid)


@pytest.mark.parametrize("mode", MODES)
def test_double_forked_daemon_is_killed(tmp_path: Path, mode: str) -> None:
    ran = run(
        tmp_path,
        mode,
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        time.sleep(0.5)
    """,
    )
    assert ran.code == 0
    assert not _processes_of(ran.uid)


@pytest.mark.parametrize("mode", MODES)
def test_cpu_and_file_size_limits(tmp_path: Path, mode: str) -> None:
    ran = run(tmp_path, mode, "while True:\n    pass\n", Limits(cpu_seconds=1))
    assert "CPU" in (ran.hit or "")
    ran = run(
        tmp_path,
        mode,
        "open('big', 'wb').write(bytes(8 * 1024 * 1024))\n",
        Limits(max_file_bytes=1024 * 1024),
    )
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
        proc = box.spawn(
            [sys.executable, "-s", "-c", f"import os; os.write({write_fd}, b'hello')"],
            pass_fds=(write_fd,),
            stdout_path=tmp_path / "out.txt",
        )
        os.close(write_fd)
        proc.wait(timeout=30)
        assert os.read(read_fd, 100) == b"hello"
    os.close(read_fd)


def test_auto_refuses_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.sandbox import modes

    monkeypatch.setattr(modes, "_bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SandboxUnavailable, match="--sandbox process"):
        resolve_mode("auto")
    assert resolve_mode("process") == "process"


def _processes_of(uid: int | None) -> list[int]:
    from grader.sandbox.uids import processes_of

    return [] if uid is None else processes_of(uid)


CHILD_VIEW = """
    import json, os, sys
    site = os.environ["PYTHONPATH"]
    print("PATH", site in sys.path)
    print("SITE", json.dumps(sorted(os.listdir(site))))
    for name in ("grader", "reference", "assignments", "nngrader_child", "pytest"):
        try:
            __import__(name)
            print("IMPORTED", name)
        except ImportError:
            print("no", name)
    import numpy as np
    solved = np.linalg.solve(np.eye(3) * 2, np.ones(3)).sum()
    print("NUMPY", solved, np.random.default_rng(0).integers(10, size=3).sum())
"""


def listings(out: str, tag: str) -> dict[str, list[str]]:
    """``{folder: names}`` from the child's ``TAG folder [json list]`` lines."""
    return {
        folder: json.loads(names)
        for _, folder, names in (
            line.split(" ", 2) for line in out.splitlines() if line.startswith(tag + " ")
        )
    }


@pytest.mark.parametrize("mode", MODES)
def test_the_child_sees_numpy_and_no_other_installed_package(tmp_path: Path, mode: str) -> None:
    ran = run_each(tmp_path, mode, [CHILD_VIEW], Limits(cpu_seconds=20))
    out = (tmp_path / "out.txt").read_text()
    assert ran[0][0] == 0, out
    assert "PATH True" in out and "IMPORTED" not in out, out
    assert "no grader" in out and "no reference" in out and "no assignments" in out
    listed = json.loads(out.split("SITE ", 1)[1].splitlines()[0])
    assert "numpy" in listed and set(listed) <= {"numpy", "numpy.libs"}, listed
    assert "NUMPY 1.5 " in out


def test_site_folders_are_named_as_the_sandbox_shows_them(tmp_path: Path) -> None:
    from grader.sandbox.paths import numpy_dirs, site_dirs

    venv = tmp_path.resolve() / "venv"
    (venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")  # as `python -m venv` makes it
    alias = tmp_path.resolve() / "alias"
    alias.symlink_to(venv / "lib")  # a bound root that is a host symlink, like /lib -> usr/lib
    found = set(site_dirs([venv, alias])) - {numpy_dirs()[0].parent}
    # lib64/... is lib/... inside the sandbox too; a bound root is a mount of its own.
    assert found == {
        venv / "lib" / "python3.11" / "site-packages",
        alias / "python3.11" / "site-packages",
    }


@pytest.mark.sandbox
@needs_root
@needs_bwrap
def test_bwrap_masks_every_site_folder_down_to_numpy(tmp_path: Path) -> None:
    from grader.sandbox.paths import SYSTEM_DIRS, numpy_dirs, runtime_paths, site_dirs

    roots = [*(Path(s) for s in SYSTEM_DIRS if os.path.exists(s)), *runtime_paths()]
    sites = site_dirs(roots)
    numpy_site = numpy_dirs()[0].parent
    assert numpy_site in sites
    # The host's own site folder holds nngrader's editable finder (or reference/ and assignments/
    # after a plain `pip install .`): none of it, nor anything else installed, may show.
    ran = run_each(
        tmp_path,
        "bwrap",
        [
            f"""
        import json, os
        for site in {[str(s) for s in sites]!r}:
            print("LIST", site, json.dumps(sorted(os.listdir(site))))
    """
        ],
        Limits(cpu_seconds=20),
    )
    out = (tmp_path / "out.txt").read_text()
    assert ran[0][0] == 0, out
    listed = listings(out, "LIST")
    assert set(listed) == {str(s) for s in sites}
    for site, names in listed.items():
        expected = {p.name for p in numpy_dirs()} if Path(site) == numpy_site else set()
        assert set(names) == expected, (site, names)


@pytest.mark.parametrize("mode", MODES)
def test_no_new_privileges_is_set(tmp_path: Path, mode: str) -> None:
    ran = run_each(
        tmp_path,
        mode,
        [
            """
        import os
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        print("NNP", status["NoNewPrivs"].strip(), "UID", os.getuid())
    """
        ],
        Limits(cpu_seconds=20),
    )
    out = (tmp_path / "out.txt").read_text()
    assert ran[0][0] == 0, out
    assert "NNP 1 " in out and "UID 0" not in out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("first", ["memory", "processes", "cpu"])
def test_a_limit_hit_by_one_child_is_not_blamed_on_the_next(
    tmp_path: Path, mode: str, first: str
) -> None:
    hit_it = {
        "memory": "blocks = []\nwhile True:\n    blocks.append(bytearray(32 * 1024 * 1024))\n",
        "processes": (
            "import os, time\nfor _ in range(40):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n"
            "    except OSError:\n        break\n"
            "os._exit(5)\n"
        ),
        "cpu": "while True:\n    pass\n",
    }[first]
    limits = Limits(memory_bytes=300 * 1024**2, max_processes=8, cpu_seconds=1)
    (rc1, hit1), (rc2, hit2) = run_each(
        tmp_path, mode, [hit_it, "import os\nos._exit(3)\n"], limits
    )
    named = {
        "memory": "memory limit (300 MiB)",
        "processes": "process limit (8)",
        "cpu": "CPU time limit (1 s)",
    }[first]
    if first != "cpu" and not _has_cgroup():
        pytest.skip("no cgroup v1 here: memory and process hits are not reported")
    assert rc1 != 0 and named in (hit1 or ""), hit1
    assert rc2 == 3 and hit2 is None, hit2


def _has_cgroup() -> bool:
    from tests.sandbox_support import sandbox_problems

    return not any("cgroup" in p for p in sandbox_problems())


VENV_HOST = """
import json, sys, tempfile, textwrap
from pathlib import Path
from grader.sandbox import Limits, Sandbox
out = {}
for mode in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ws").mkdir()
        (tmp / "scratch").mkdir()
        folders = {"workspace": tmp / "ws", "scratch": tmp / "scratch"}
        with Sandbox(mode=mode, **folders, ro_paths=[], limits=Limits(cpu_seconds=20)) as box:
            proc = box.spawn([sys.executable, "-S", "-B", "-c", textwrap.dedent(CODE)],
                             stdout_path=tmp / "out.txt")
            out[mode] = [proc.wait(timeout=60), (tmp / "out.txt").read_text()]
print(json.dumps(out))
"""


@pytest.mark.sandbox
@needs_root
@needs_bwrap
def test_numpy_installed_in_a_venv_works_and_the_base_site_stays_hidden(tmp_path: Path) -> None:
    from grader.sandbox.paths import numpy_dirs

    venv = tmp_path / "venv"
    make_venv = [sys.executable, "-m", "venv", "--without-pip", str(venv)]
    subprocess.run(make_venv, check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    for source in numpy_dirs():  # hard links: a copy of numpy's 70 MB in a blink (same filesystem)
        try:
            shutil.copytree(source, site / source.name, copy_function=os.link)
        except OSError:
            shutil.copytree(source, site / source.name)
    (site / "planted_package.py").write_text("SECRET = 1\n")
    # The venv's base interpreter is bound with its runtime, so its site folders are masked.
    # nngrader's editable finder lives in this test's own site folder: that is one of them when
    # the test runs in the base interpreter, and not bound at all when it runs in a venv itself
    # (the new venv's base is then the base interpreter, not that venv).
    base_sites = [s for s in getsitepackages([sys.base_prefix]) if os.path.isdir(s)]
    own_site = str(numpy_dirs()[0].parent)
    listing = f"""
    for folder in ({str(site)!r}, *{sorted({own_site, *base_sites})!r}):
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
        print("LIST", folder, json.dumps(names))
    try:
        import planted_package
        print("IMPORTED planted")
    except ImportError:
        print("no planted")
    """
    host = VENV_HOST.replace("CODE", repr(CHILD_VIEW + listing))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", host, "bwrap", "process"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for mode, (returncode, out) in json.loads(done.stdout.splitlines()[-1]).items():
        assert returncode == 0, (mode, out)
        assert "IMPORTED" not in out and "NUMPY 1.5 " in out, (mode, out)
        assert set(json.loads(out.split("SITE ", 1)[1].splitlines()[0])) == {
            p.name for p in numpy_dirs()
        }
        listed = listings(out, "LIST")
        if mode == "bwrap":  # process mode is not isolated: only the imports are checked there
            assert set(listed[str(site)]) == {p.name for p in numpy_dirs()}, listed
            assert all(listed[folder] == [] for folder in base_sites), listed
            assert not listed[own_site], listed  # empty, or absent when not bound
