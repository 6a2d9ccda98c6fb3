"""An IPython kernel inside the submission's sandbox, driven from the grading process.

The kernel is the student's code, so it runs where student code runs: ``Sandbox.spawn`` starts
``ipykernel`` with the sandbox's uid, cgroup, rlimits and (bwrap) an empty network namespace.
With no network the kernel cannot reach nbclient over loopback TCP, so the two talk over
jupyter's ``ipc`` transport: Unix sockets in the sandbox's scratch folder, which bwrap binds at
its host path (as root), so the grading process connects to the very files the kernel made.

jupyter_client starts kernels through a provisioner; ``SandboxProvisioner`` is the local one with
the launch replaced by ``Sandbox.spawn`` and every signal that would end the kernel replaced by
killing the sandbox's processes. Interrupts travel as a message on the control channel
(``interrupt_mode = "message"``): ipykernel then signals itself, which a signal sent to bwrap's
outer process would never do. Replies are read with a cap on each message
(``zmq.MAXMSGSIZE``): a kernel that sends a larger one loses that connection's message, and the
grading process never allocates it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import default

from grader.sandbox.launch import Sandbox

__all__ = [
    "KERNEL_NAME",
    "MAX_MESSAGE_BYTES",
    "close_kernel",
    "kernel_argv",
    "sandboxed_kernel_manager",
]

KERNEL_NAME = "nngrader-python3"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest message read from the kernel (a cell's output beyond it is lost, never allocated)."""
SOCKETS = "k"
"""The ipc sockets' prefix in scratch (short: a Unix socket path holds at most 107 bytes)."""

# ipykernel's own launcher, with the folders the notebook imports from put first: -S leaves
# sys.path without site folders, and the sandbox's PYTHONPATH holds only the bound packages.
_LAUNCH = (
    "import sys; sys.path[:0] = sys.argv.pop(1).split(':'); "
    "from ipykernel import kernelapp; kernelapp.launch_new_instance()"
)


def kernel_argv(paths: list[Path]) -> list[str]:
    """The kernel's command line inside the sandbox (``{connection_file}`` filled in by
    jupyter_client); ``paths`` go first on its ``sys.path`` (the notebook's folder)."""
    return [
        sys.executable,
        "-S",
        "-B",
        "-c",
        _LAUNCH,
        ":".join(str(p) for p in paths),
        "-f",
        "{connection_file}",
        # No history database in scratch: nbgrader does the same.
        "--HistoryManager.hist_file=:memory:",
    ]


class SandboxProvisioner(LocalProvisioner):
    """Starts the kernel with ``Sandbox.spawn``; ends it by killing the sandbox's processes."""

    box: Sandbox
    log_path: Path

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Write the connection file as jupyter_client does, then let the sandbox uid read it
        (jupyter writes it 0600 for its own user; the key is the kernel's own anyway)."""
        launch: dict[str, Any] = await super().pre_launch(**kwargs)
        connection = Path(self._manager().connection_file)
        if self.box.uid is not None:
            os.chown(connection, self.box.uid, self.box.uid)
        return launch

    def _manager(self) -> Any:
        return self.parent  # the kernel manager that made this provisioner

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Spawn ``cmd`` in the sandbox (its environment, cwd and limits, not ``kwargs``')."""
        self.process = self.box.spawn(cmd, stdout_path=self.log_path)
        self.pid = self.pgid = self.process.pid
        self.cwd = str(self.box.scratch)
        info: KernelConnectionInfo = self.connection_info
        return info

    async def send_signal(self, signum: int) -> None:
        """Interrupts go as messages; any other signal ends the kernel: kill the sandbox."""
        if signum != signal.SIGINT and self.process is not None:
            self.box.kill_all()

    async def kill(self, restart: bool = False) -> None:
        """Kill every process of the sandbox."""
        self.box.kill_all()

    async def terminate(self, restart: bool = False) -> None:
        """There is no gentler end for a kernel in the sandbox than killing it."""
        self.box.kill_all()


class CappedClient(AsyncKernelClient):
    """A kernel client on its manager's zmq context, whose sockets drop any message over
    ``MAX_MESSAGE_BYTES`` (and which ``close_kernel`` destroys, every socket with it)."""

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        manager: Any = self.parent  # the kernel manager that made this client
        context: zmq.asyncio.Context = manager.context
        return context


class _OneSpec(KernelSpecManager):
    """Knows one kernel, ours, whatever the notebook's metadata names."""

    spec: KernelSpec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self.spec


def sandboxed_kernel_manager(box: Sandbox, *, paths: list[Path], log_path: Path) -> Any:
    """An ``AsyncKernelManager`` whose kernel runs in ``box`` and talks over ipc in its scratch.

    Args:
        box: The sandbox (its scratch must be the host folder the kernel sees: as root, or in
            process mode).
        paths: Folders put first on the kernel's ``sys.path``.
        log_path: The file that collects the kernel's own stdout and stderr.

    Returns:
        The manager (typed ``Any``: jupyter_client's traitlets classes are untyped).
    """
    spec = KernelSpec(
        argv=kernel_argv(paths),
        display_name="Python 3 (nngrader sandbox)",
        language="python",
        interrupt_mode="message",
    )
    specs = _OneSpec()
    specs.spec = spec
    scratch = box.scratch
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    manager = AsyncKernelManager(
        context=context,
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(scratch / SOCKETS),
        connection_file=str(scratch / "kernel.json"),
        client_class="grader.notebooks.kernel.CappedClient",
        # jupyter_client would wait between a shutdown request and SIGTERM; ours kills at once.
        shutdown_wait_time=0.5,
    )
    provisioner = SandboxProvisioner(kernel_id="nngrader", kernel_spec=spec, parent=manager)
    provisioner.box = box
    provisioner.log_path = log_path
    manager.provisioner = provisioner
    return manager


def close_kernel(manager: Any) -> None:
    """Kill the kernel's sandbox processes and close every socket of ``manager``'s context
    (closed explicitly: a socket left to the garbage collector warns)."""
    if isinstance(manager.provisioner, SandboxProvisioner):
        manager.provisioner.box.kill_all()
    manager.context.destroy(linger=0)
