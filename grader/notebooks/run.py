"""The notebook-execution stage of the pipeline (``--execute``): ``execute_all``.

Runs each notebook the spec names (``[notebooks]`` parts) that the submission holds, one sandbox
each (``grader.notebooks.execute``), and hands on: the first trained model read out of a kernel
(for the accuracy stage, ``grader.accuracy.check.NotebookModel``), the executed notebooks and
their HTML as files for the render stage, notes, and a per-cell summary for ``results.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.accuracy.check import NotebookModel
from grader.sandbox.limits import Limits
from grader.spec import Spec

if TYPE_CHECKING:
    from grader.notebooks.execute import Executed

__all__ = ["ExecuteOptions", "NotebooksRan", "execute_all"]


@dataclass(frozen=True)
class ExecuteOptions:
    """``--execute`` and its budgets."""

    cell_seconds: float = 600.0
    notebook_seconds: float = 3600.0


@dataclass(frozen=True)
class NotebooksRan:
    """What executing a submission's notebooks produced."""

    model: NotebookModel | None = None
    files: dict[str, str] = field(default_factory=dict)
    """Output file name -> text: ``<stem>.executed.ipynb`` and ``<stem>.executed.html``."""
    notes: tuple[str, ...] = ()
    extra: list[dict[str, Any]] = field(default_factory=list)


def execute_all(
    root: Path,
    spec: Spec,
    workdir: Path,
    *,
    isolation: str,
    limits: Limits,
    options: ExecuteOptions,
    data: Path | None,
) -> NotebooksRan:
    """Execute every spec-named notebook found under ``root`` (the taken-in submission)."""
    # Imported here: nbclient, jupyter_client and zmq load only when --execute asks for them.
    from grader.notebooks.execute import Budget, Plan, execute_notebook
    from grader.notebooks.neutralize import DEFAULT_RULES, Rule

    budget = Budget(cell_seconds=options.cell_seconds, notebook_seconds=options.notebook_seconds)
    course = spec.notebooks
    plan = Plan(
        rules=(*DEFAULT_RULES, *(Rule(r.pattern, r.action, r.text, r.why) for r in course.rules)),
        data_dir=course.data_dir,
        model_variable=course.model,
    )
    runs: list[Executed] = []
    for number, path in enumerate(find_notebooks(root, spec)):
        runs.append(
            execute_notebook(
                path,
                name=path.relative_to(root).as_posix(),
                workdir=workdir / f"nb{number}",
                isolation=isolation,
                limits=limits,
                packages=spec.runtime,
                budget=budget,
                plan=plan,
                data=data,
            )
        )
    files: dict[str, str] = {}
    notes: list[str] = []
    for run in runs:
        stem = Path(run.name).stem
        if run.notebook:
            files[f"{stem}.executed.ipynb"] = run.notebook
            files[f"{stem}.executed.html"] = run.html
        bad = [c for c in run.cells if c.status != "ok"]
        notes.extend(f"{run.name} cell {c.index}: {c.status}: {c.message}" for c in bad)
        notes.extend(f"{run.name}: {n}" for n in run.notes)
    with_model = [r for r in runs if r.model is not None]
    model = None
    if runs:
        first = with_model[0] if with_model else runs[0]
        model = NotebookModel(model=first.model, error=first.model_problem or None)
    return NotebooksRan(model, files, tuple(notes), [summary(r) for r in runs])


def find_notebooks(root: Path, spec: Spec) -> list[Path]:
    """The spec's notebooks (by file name) in the submission, each once, in sorted order."""
    names = set(spec.notebooks.parts)
    first: dict[str, Path] = {}
    for path in sorted(root.rglob("*.ipynb")):
        if path.name in names and path.is_file() and not path.is_symlink():
            first.setdefault(path.name, path)
    return list(first.values())


def summary(run: Executed) -> dict[str, Any]:
    """One executed notebook for ``results.json``'s extra (the instructor's detail)."""
    return {
        "notebook": run.name,
        "seconds": round(run.seconds, 1),
        "cells": {
            s: sum(c.status == s for c in run.cells) for s in ("ok", "error", "timeout", "not_run")
        },
        "model": "read" if run.model is not None else run.model_problem,
    }
