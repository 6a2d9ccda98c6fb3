"""The child runtime's bytecode (``grader.sandbox.bytecode``): written once by the grading
process, used by a child that runs with ``-B``, and never standing for other source than the
file beside it."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from grader.sandbox.bytecode import precompile
from grader.sandbox.paths import numpy_path
from grader.sandbox.session import Session, SessionConfig
from grader.workspace.stage import stage_runtime
from tests.grader.conftest import PlainLauncher


def _runtime(tmp_path: Path, source: str) -> Path:
    runtime = tmp_path / "runtime"
    (runtime / "pkg").mkdir(parents=True)
    (runtime / "pkg" / "__init__.py").write_text("")
    (runtime / "pkg" / "mod.py").write_text(textwrap.dedent(source))
    return runtime


def _child(runtime: Path, code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """``code`` run as the child runs: ``-S -B``, the runtime first on sys.path."""
    prelude = f"import sys; sys.path.insert(0, {str(runtime)!r}); "
    return subprocess.run(
        [sys.executable, "-S", "-B", *flags, "-c", prelude + code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(numpy_path())},
    )


def test_the_child_imports_the_runtime_from_the_written_pycs(tmp_path: Path) -> None:
    runtime = stage_runtime(tmp_path / "runtime")
    package = runtime / "nngrader_child"
    written = precompile(package)
    assert written == len(list(package.glob("*.py"))) - 1  # not __main__.py: a script
    assert precompile(package) == 0  # once: the pycs are there
    done = _child(runtime, "import nngrader_child.harness", "-v")
    assert done.returncode == 0, done.stderr[-2000:]
    harness = runtime / "nngrader_child" / "harness.py"
    cached = importlib.util.cache_from_source(str(harness))
    assert f"# {cached} matches {harness}" in done.stderr


def test_the_pycs_are_checked_hash_and_readable_by_every_uid(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "VALUE = 1\n")
    old = os.umask(0o077)  # a private umask in the grading process must not hide them
    try:
        precompile(runtime)
    finally:
        os.umask(old)
    source = runtime / "pkg" / "mod.py"
    pyc = Path(importlib.util.cache_from_source(str(source)))
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b11  # hash-based, checked at import
    assert data[8:16] == importlib.util.source_hash(source.read_bytes())
    assert stat.S_IMODE(pyc.stat().st_mode) == 0o644
    assert stat.S_IMODE(pyc.parent.stat().st_mode) == 0o755
    assert not [p for p in pyc.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_pyc_never_stands_for_changed_source(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "VALUE = 1\n")
    precompile(runtime)
    source = runtime / "pkg" / "mod.py"
    stat_before = source.stat()
    source.write_text("VALUE = 2\n")  # same size; the timestamps put back as they were
    os.utime(source, ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))
    done = _child(runtime, "import pkg.mod; print(pkg.mod.VALUE)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_the_pycs_keep_asserts_whatever_flags_the_grader_runs_with(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "def check():\n    assert False, 'kept'\n")
    compiled = subprocess.run(
        [
            sys.executable,
            "-O",
            "-c",
            "import sys; from grader.sandbox.bytecode import precompile;"
            f" sys.exit(0 if precompile(__import__('pathlib').Path({str(runtime)!r})) else 1)",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert compiled.returncode == 0, compiled.stderr
    done = _child(runtime, "import pkg.mod; pkg.mod.check()", "-v")
    assert "AssertionError: kept" in done.stderr
    source = runtime / "pkg" / "mod.py"
    pyc = importlib.util.cache_from_source(str(source), optimization="")
    assert f"# {pyc} matches {source}" in done.stderr  # the pyc, not the source, was run


def test_a_file_that_does_not_compile_is_left_to_the_child(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "def broken(:\n")
    assert precompile(runtime) == 1  # pkg/__init__.py only
    assert not Path(importlib.util.cache_from_source(str(runtime / "pkg" / "mod.py"))).exists()


def test_a_session_writes_the_runtime_pycs_before_its_first_child(tmp_path: Path) -> None:
    runtime = stage_runtime(tmp_path / "runtime")
    (tmp_path / "ws").mkdir()
    config = SessionConfig(
        runtime=runtime,
        workspace=tmp_path / "ws",
        modules={},
        compat=False,
        output_path=tmp_path / "out.txt",
    )
    launcher = PlainLauncher()
    try:
        with Session(config, launcher) as session:
            session.request("reset", time.monotonic() + 60, seed=0)
            harness = runtime / "nngrader_child" / "harness.py"
            assert Path(importlib.util.cache_from_source(str(harness))).is_file()
    finally:
        launcher.kill_all()
