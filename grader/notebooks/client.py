"""Running a prepared notebook's cells in the sandboxed kernel, within its budgets (``run_cells``).

nbclient executes each cell with ``allow_errors`` (an error is recorded, the next cell runs) and
a per-cell ``timeout`` after which the kernel is interrupted and the cell recorded as timed out.
The notebook's own budget is a deadline around the whole loop: when it passes, the kernel's
sandbox is killed and every cell not yet finished is reported as not run. A kernel that dies
(memory, ``os._exit``) ends the run the same way, with the limit that stopped it named when the
sandbox knows it. nbclient keeps every output in memory and has no cap, so ``CappedClient``
stops keeping a cell's outputs past ``cell_output_bytes`` and the notebook's past
``notebook_output_bytes``, and says so once in the cell.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

__all__ = ["TIMEOUT_NAME", "Budget", "CappedClient", "CellReport", "run_cells"]

TIMEOUT_NAME = "CellTimeoutError"
CellStatus = Literal["ok", "error", "timeout", "not_run"]


@dataclass(frozen=True)
class Budget:
    """What one notebook may take (``--cell-timeout``, ``--notebook-timeout``, output caps)."""

    cell_seconds: float = 600.0
    notebook_seconds: float = 3600.0
    cell_output_bytes: int = 1024 * 1024
    """A cell's outputs kept (plots are ~30 KiB each as PNG); the rest is dropped."""
    notebook_output_bytes: int = 16 * 1024 * 1024
    startup_seconds: float = 60.0


@dataclass(frozen=True)
class CellReport:
    """What happened to one code cell."""

    index: int
    """The cell's position in the notebook, from 1 (all cells counted, as Jupyter shows them)."""
    status: CellStatus
    message: str = ""
    """The error (``ZeroDivisionError: division by zero``), or why the cell did not finish."""


class CappedClient(NotebookClient):
    """nbclient with caps on the outputs it keeps."""

    cell_output_bytes: int = Budget.cell_output_bytes
    notebook_output_bytes: int = Budget.notebook_output_bytes
    _kept: dict[int, int]
    _total: int = 0

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: Any, cell_index: int) -> Any:
        """Keep the output unless a cap is reached; then a single notice in its place."""
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return None
        if not hasattr(self, "_kept"):
            self._kept = {}
        size = len(json.dumps(out))
        kept = self._kept.get(cell_index, 0)
        if (
            kept + size <= self.cell_output_bytes
            and self._total + size <= self.notebook_output_bytes
        ):
            self._kept[cell_index] = kept + size
            self._total += size
            return out
        # Replaced in place: nbclient may hold the output's index for display updates.
        first = kept <= self.cell_output_bytes
        out.clear()
        out.update(  # type: ignore[no-untyped-call]
            nbformat.v4.new_output(  # type: ignore[no-untyped-call]
                "stream",
                name="stderr",
                text=f"[nngrader: further output of this cell dropped (output caps: "
                f"{self.cell_output_bytes} bytes per cell, {self.notebook_output_bytes} per "
                "notebook)]\n"
                if first
                else "",
            )
        )
        self._kept[cell_index] = self.cell_output_bytes + 1
        return out


async def run_cells(
    client: CappedClient,
    *,
    notebook_seconds: float,
    kill: Callable[[], None],
    limit_hit: Callable[[], str | None],
    after: Callable[[], Awaitable[None]] | None = None,
) -> list[CellReport]:
    """Execute every code cell of ``client.nb`` in order, within the budgets.

    Args:
        client: Set up with the notebook, the kernel manager and the per-cell timeout.
        notebook_seconds: The whole notebook's budget (the kernel's start included).
        kill: Ends the kernel's processes (the sandbox's ``kill_all``).
        limit_hit: Which sandbox limit stopped the kernel, if one did.
        after: Run with the kernel still up once the cells are done (the model's readout).

    Returns:
        One report per code cell.
    """
    errors: dict[int, dict[str, Any]] = {}

    def on_error(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        errors[cell_index] = execute_reply.get("content", {})

    client.on_cell_error = on_error
    client.error_on_timeout = {
        "ename": TIMEOUT_NAME,
        "evalue": f"the cell did not finish within {client.timeout:g} s (the per-cell time limit)",
        "traceback": [],
    }
    reports: dict[int, CellReport] = {}
    code = [i for i, cell in enumerate(client.nb.cells) if cell.cell_type == "code"]
    deadline = time.monotonic() + notebook_seconds
    stopped = ""
    try:
        async with client.async_setup_kernel():
            for done, index in enumerate(code):
                left = deadline - time.monotonic()
                if left <= 0:
                    stopped = (
                        f"not run: the notebook's time limit ({notebook_seconds:g} s) was used up"
                    )
                    break
                cell = client.nb.cells[index]
                try:
                    await asyncio.wait_for(
                        client.async_execute_cell(cell, index, execution_count=done + 1), left
                    )
                except asyncio.TimeoutError:
                    kill()
                    reports[index] = CellReport(
                        index + 1,
                        "timeout",
                        f"the notebook's time limit ({notebook_seconds:g} s) ran out in this cell",
                    )
                    stopped = (
                        f"not run: the notebook's time limit ({notebook_seconds:g} s) was used up"
                    )
                    break
                except DeadKernelError:
                    why = limit_hit() or "the kernel died"
                    reports[index] = CellReport(
                        index + 1, "error", f"the kernel died in this cell: {why}"
                    )
                    stopped = "not run: the kernel had died"
                    break
                reports[index] = _report(index, cell, errors.get(index))
            else:
                if after is not None:
                    try:
                        await asyncio.wait_for(after(), max(deadline - time.monotonic(), 1.0))
                    except asyncio.TimeoutError:
                        pass  # what ``after`` did not get, it reports itself
    except RuntimeError as exc:
        # jupyter_client's words for a kernel that died or never answered ``kernel_info``: the
        # student's notebook is not to blame for a kernel that did not start, and every cell says
        # why it did not run (the kernel's own output is in the instructor's log).
        if reports:
            raise
        stopped = f"not run: the kernel did not start ({limit_hit() or exc})"
    finally:
        kill()
        # nbclient leaves the channels open when it was given the kernel manager; the heartbeat
        # runs in a thread of its own, which must stop before the sockets go.
        if client.kc is not None:
            client.kc.stop_channels()
    return [reports.get(i) or CellReport(i + 1, "not_run", stopped or "not run") for i in code]


def _report(index: int, cell: Any, error: dict[str, Any] | None) -> CellReport:
    """The cell's report from its error reply (None: it ran through)."""
    if error is None:
        return CellReport(index + 1, "ok")
    name, value = str(error.get("ename", "Error")), str(error.get("evalue", ""))
    if name == TIMEOUT_NAME:
        timed_out = nbformat.v4.new_output(  # type: ignore[no-untyped-call]
            "error", ename=name, evalue=value, traceback=[]
        )
        cell.outputs.append(timed_out)
        return CellReport(index + 1, "timeout", value)
    return CellReport(index + 1, "error", f"{name}: {value}"[:500])
