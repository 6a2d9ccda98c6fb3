"""Shared fixtures for grader tests."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from grader.sandbox.session import SessionConfig
from grader.workspace.stage import stage_runtime


class PlainLauncher:
    """Starts the child as a plain process in its own process group (no sandbox).

    Tests of the protocol and the runner use it so that they do not depend on bubblewrap;
    the sandbox has its own tests.
    """

    isolation = "process"
    cwd: Path | None = None
    """The child's working folder (None: ours)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def preexec(self) -> None:
        """Runs in the child between fork and exec (subclasses apply limits here)."""

    def spawn(self, argv: Sequence[str], *, pass_fds: Sequence[int] = (), stdout_path: Path) -> Any:
        from grader.sandbox.paths import numpy_path

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(numpy_path())}  # children run with -S
        with open(stdout_path, "ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=tuple(pass_fds),
                start_new_session=True,
                env=env,
                cwd=self.cwd,
                preexec_fn=self.preexec,
            )
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def limit_hit(self) -> str | None:
        return None


@pytest.fixture
def plain_launcher() -> PlainLauncher:
    launcher = PlainLauncher()
    yield launcher
    launcher.kill_all()


def toy_session_config(root: Path, source: str) -> SessionConfig:
    """A child session on a one-module package written under ``root``: ``pkg/toy.py`` holding
    ``source`` (dedented), known to the child as the logical module ``toy``; the runtime staged
    in ``root/runtime``, the child's output in ``root/out.txt``."""
    package = root / "ws" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(textwrap.dedent(source))
    return SessionConfig(
        runtime=stage_runtime(root / "runtime"),
        workspace=root / "ws",
        modules={"toy": "pkg.toy"},
        compat=False,
        output_path=root / "out.txt",
    )
