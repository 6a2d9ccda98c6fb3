"""Executing a student's notebook in the sandbox (``--execute``): ``execute_notebook``.

Optional, and never what a check's points rest on by itself: what a notebook computes is the
student's claim. The notebook runs as the course ran it, in its own folder: the submission's
``.py`` files beside it are copied into a fresh scratch folder (the kernel's cwd and first
``sys.path`` entry), the training batches of ``--data`` are linked where the course's loader
looks for them (``grader.notebooks.batches``), and the kernel runs in the submission's kind of
sandbox with ipykernel and the course runtime bound read-only (``grader.notebooks.kernel``).

Before it runs, the spec's rules neutralise Colab- and course-machine-only lines and skip or
shrink heavy cells (``grader.notebooks.neutralize``); nbclient then executes every cell within
the budgets (``grader.notebooks.client``). Once the cells are done, the spec's model variable is
read out of the kernel into a validated ``Model`` (``grader.notebooks.readout``). The executed
notebook and its HTML come back as text; ``grader.report.render`` writes them.

As root the scratch folder is our tmpfs bound into bwrap at its host path, so the grading process
reaches the kernel's ipc sockets there; without root, bwrap mounts a private tmpfs on scratch and
the notebook cannot be executed (``--sandbox process`` can).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.accuracy.artifact import Model
from grader.notebooks.batches import FOLDER, stage_batches
from grader.notebooks.client import Budget, CappedClient, CellReport, run_cells
from grader.notebooks.html import to_html
from grader.notebooks.kernel import close_kernel, sandboxed_kernel_manager
from grader.notebooks.neutralize import DEFAULT_RULES, Rule, prepare
from grader.notebooks.readout import export_code, fetch_model, model_path
from grader.sandbox.launch import Sandbox
from grader.sandbox.limits import Limits
from grader.workspace.discover import copy_regular

__all__ = ["Budget", "Executed", "Plan", "execute_notebook"]

MAX_SOURCE_FILES = 2000
"""``.py`` files copied from the notebook's folder at most (a course has a few dozen)."""
SKIP_DIRS = frozenset({"datasets", "__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"})


@dataclass(frozen=True)
class Plan:
    """What a course's spec says about executing its notebooks."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    data_dir: str = "cs231n/datasets"
    """The folder, relative to the notebook's, where the loader finds ``cifar-10-batches-py``."""
    model_variable: str | None = None
    """The expression naming the trained net after the notebook ran (``best_model``)."""


@dataclass(frozen=True)
class Executed:
    """One executed notebook: per-cell outcomes, the notebook itself, the model read out."""

    name: str
    """The notebook's path in the submission (``FullyConnectedNets.ipynb``)."""
    cells: tuple[CellReport, ...]
    notes: tuple[str, ...] = ()
    notebook: str = ""
    """The executed notebook (nbformat JSON), for the instructor."""
    html: str = ""
    """The same, as HTML (nbconvert, student HTML sanitised)."""
    model: Model | None = None
    model_problem: str = ""
    """Why no model came out, when one was asked for."""
    seconds: float = 0.0
    kernel_log: str = field(default="", repr=False)
    """What the kernel process itself printed (tail), for the instructor."""


def execute_notebook(
    path: Path,
    *,
    name: str,
    workdir: Path,
    isolation: str,
    limits: Limits,
    packages: Sequence[str] = (),
    budget: Budget | None = None,
    plan: Plan | None = None,
    data: Path | None = None,
) -> Executed:
    """Execute the notebook at ``path`` (its folder's ``.py`` files beside it) in a sandbox.

    Args:
        path: The notebook file, in the taken-in copy of the submission.
        name: How reports name it (its path in the submission).
        workdir: A private folder of the grader's for this notebook (created).
        isolation: The resolved sandbox mode.
        limits: The submission's limits (memory, processes, disk, CPU).
        packages: The spec's runtime packages (ipykernel's are added).
        budget: Time and output budgets.
        plan: The spec's rules, data folder and model variable.
        data: A CIFAR-10 python folder; only its training batches reach the kernel.

    Returns:
        What happened; a notebook that cannot be read or run comes back with a note and no cells.
    """
    start = time.monotonic()
    budget, plan = budget or Budget(), plan or Plan()
    notebook, problem = read_notebook(path)
    if notebook is None:
        return Executed(name, (), (problem,), seconds=time.monotonic() - start)
    prepared, notes = prepare(notebook, plan.rules)
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch, private, empty = (workdir / n for n in ("scratch", "private", "empty"))
    for folder in (scratch, private, empty):
        folder.mkdir(mode=0o700)
    batches, bound = (None, []) if data is None else stage_batches(data, workdir / "data")
    log = workdir / "kernel.log"
    log.touch(mode=0o600)
    with Sandbox(
        mode=isolation,
        workspace=empty,
        scratch=scratch,
        ro_paths=[] if batches is None else [batches.parent],
        limits=limits,
        packages=[*packages, *kernel_packages()],
        data=bound,
    ) as box:
        if box.disk.in_bwrap:
            why = "executing notebooks in bwrap needs root (the kernel's sockets are in scratch)"
            return Executed(name, (), (*notes, why), seconds=time.monotonic() - start)
        copy_sources(path.parent, scratch)
        if batches is not None:
            link = scratch / plan.data_dir / FOLDER
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(batches)
        if box.uid is not None:
            _chown_tree(scratch, box.uid)
        cells, model, model_problem = _run(prepared, box, budget, plan, private, log)
        notes += [n for n in box.limit_notes if n not in notes]
    return Executed(
        name,
        tuple(cells),
        tuple(notes),
        notebook=nbformat.writes(prepared),  # type: ignore[no-untyped-call]
        html=to_html(prepared),
        model=model,
        model_problem=model_problem,
        seconds=time.monotonic() - start,
        kernel_log=log.read_text(errors="replace")[-64 * 1024 :],
    )


def kernel_packages() -> list[str]:
    """What the kernel imports besides the course's runtime: ipykernel, and matplotlib where it
    is installed (``%matplotlib inline`` needs it; nngrader's ``courses`` extra brings it)."""
    try:
        importlib.metadata.distribution("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        return ["ipykernel"]
    return ["ipykernel", "matplotlib"]


def _run(
    nb: Any, box: Sandbox, budget: Budget, plan: Plan, private: Path, log: Path
) -> tuple[list[CellReport], Model | None, str]:
    """Execute ``nb``'s cells in ``box``'s kernel; then read the model out, if one is named."""
    manager = sandboxed_kernel_manager(box, paths=[box.scratch], log_path=log)
    client = CappedClient(
        nb,
        km=manager,
        timeout=int(budget.cell_seconds),
        startup_timeout=int(budget.startup_seconds),
        allow_errors=True,
        interrupt_on_timeout=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(box.scratch)}},
    )
    client.cell_output_bytes = budget.cell_output_bytes
    client.notebook_output_bytes = budget.notebook_output_bytes
    written = model_path(box.scratch)
    asked: dict[str, str] = {}

    async def read_out() -> None:
        if plan.model_variable is None:
            return
        kc: Any = client.kc
        msg_id = kc.execute(
            export_code(plan.model_variable, written), store_history=False, allow_stdin=False
        )
        while True:
            reply = await kc.get_shell_msg()
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                ok = reply.get("content", {}).get("status") == "ok"
                asked["error"] = "" if ok else _reply_error(reply)
                return

    try:
        cells = asyncio.run(
            run_cells(
                client,
                notebook_seconds=budget.notebook_seconds,
                kill=box.kill_all,
                limit_hit=box.limit_hit,
                after=read_out,
            )
        )
    finally:
        close_kernel(manager)
    if plan.model_variable is None:
        return cells, None, ""
    if asked.get("error", "not run") != "":
        why = asked.get("error") or "the notebook did not finish"
        return cells, None, f"no model read out of the kernel as {plan.model_variable}: {why}"
    model, problem = fetch_model(written, private)
    return cells, model, problem


def _reply_error(reply: dict[str, Any]) -> str:
    content = reply.get("content", {})
    return f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:300]


def read_notebook(path: Path) -> tuple[Any, str]:
    """The notebook as nbformat v4, or None and why not.

    nbformat warns about notebooks older tools wrote (cell ids missing, an old minor version):
    those are the student's tools' business, and the notebook still runs, so the warnings are
    caught here rather than raised (the test run turns warnings into errors).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"{path.name} could not be read as a notebook ({type(exc).__name__})"
    return notebook, ""


def copy_sources(folder: Path, dest: Path) -> int:
    """Copy the ``.py`` files under ``folder`` (no links, no data folders) to ``dest``.

    Returns:
        How many were copied (at most ``MAX_SOURCE_FILES``).
    """
    copied = 0
    for top, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = Path(top).relative_to(folder)
        for filename in sorted(f for f in filenames if f.endswith(".py")):
            if copied >= MAX_SOURCE_FILES:
                return copied
            (dest / rel).mkdir(parents=True, exist_ok=True)
            try:
                copy_regular(Path(top) / filename, dest / rel / filename)
            except OSError:
                continue  # a link or special file: not copied
            copied += 1
    return copied


def _chown_tree(top: Path, uid: int) -> None:
    """Give the sandbox uid what was put in its scratch (links themselves, not their targets)."""
    for folder, dirnames, filenames in os.walk(top, followlinks=False):
        for entry in (folder, *(os.path.join(folder, n) for n in (*dirnames, *filenames))):
            os.lchown(entry, uid, uid)
