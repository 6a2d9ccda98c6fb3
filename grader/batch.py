"""A batch as the results store sees it: what to grade, grading it, and every file from the store.

``grader.api.grade`` takes the submissions in; here each gets its identity (name and output
folder, ``grader.report.names``) and the hash of what is graded (``grader.fingerprint``), and
the store (``grader.store``) says which to grade: what it never finished, and what changed
(``regrade``: everything). The rest keeps its result, unread by anything but the class views.

Each result is finalised in the store first, then rendered from what the store holds, so a run
killed in between loses nothing: at the next start every finalised row whose files are not all
written is rendered again, without regrading. The class views are built from every finalised
row, those of earlier runs included. A submission whose grading ended without a result
``MAX_ATTEMPTS`` times (its worker died, or the whole run did) is finalised as failed, with the
reason, instead of being tried forever.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from grader import fanout, fingerprint, pipeline
from grader.errors import GraderError
from grader.executors import local
from grader.executors.job import Document, Settings, grade_one
from grader.intake import Submission
from grader.report import names
from grader.report.class_views import write_class_views
from grader.report.instructor import from_instructor, to_instructor
from grader.report.render import RESULTS
from grader.report.rerender import render_stored, result_of
from grader.results import SubmissionResult
from grader.spec import Spec
from grader.store import MAX_ATTEMPTS, Key, Store

__all__ = ["Hooks", "How", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class How:
    """Where and how the submissions to grade are graded."""

    executor: str = "local"
    """``local`` (this process with ``jobs`` 1, else worker processes) or ``dask``."""
    jobs: int = 1
    """Local worker processes, or a ``LocalCluster``'s workers."""
    scheduler: str | None = None
    """A Dask scheduler's address; None starts a ``LocalCluster``."""
    regrade: bool = False
    """Grade every submission, finished or not."""


@dataclass(frozen=True)
class Hooks:
    """What the caller hears (``grader.api.grade`` documents each)."""

    on_start: Callable[[str, int], None] | None = None
    on_result: Callable[[SubmissionResult, Path], None] | None = None
    on_resume: Callable[[int, int], None] | None = None


def run(
    submissions: Sequence[Submission],
    *,
    out: Path,
    store: Store,
    settings: Settings,
    specs: tuple[Spec, ...],
    workdir: Path,
    stop: fanout.Stop,
    how: How = How(),
    hooks: Hooks = Hooks(),
) -> tuple[list[SubmissionResult], list[str]]:
    """Grade what the store says needs it, render, and write the class views.

    Returns:
        The results of ``submissions`` that are finalised (in this run or before), in input
        order, and the names of those that are not (the batch was stopped).

    Raises:
        GraderError: the run's setup is wrong (raised by a job, or the cluster).
    """
    folders = names.folders([s.name for s in submissions])
    keys = [Key(s.name, f) for s, f in zip(submissions, folders, strict=True)]
    digest = fingerprint.settings_digest(settings, specs)
    contents = [fingerprint.content(digest, s) for s in submissions]
    if store.requeue_dead():
        logger.warning("the last run into %s stopped while grading; its submissions are queued "
                       "again (each such attempt counts)", out)  # fmt: skip
    plan = store.plan(list(zip(keys, contents, strict=True)), regrade=how.regrade)
    chosen = [i for i, grade in enumerate(plan) if grade]
    batch = _Batch(
        [submissions[i] for i in chosen], [keys[i] for i in chosen], [contents[i] for i in chosen],
        out=out, store=store, settings=settings, hooks=hooks,
    )  # fmt: skip
    _restore(out, store)
    if hooks.on_resume:
        hooks.on_resume(len(submissions) - len(chosen), len(chosen))
    todo = batch.exhausted()
    try:
        _grade(batch, todo, workdir, stop, how)
    finally:
        store.release(batch.keys)
    final = {row.key: row for row in store.rows("done", "failed")}
    results = [result_of(final[k]) for k in keys if k in final]
    try:
        write_class_views([result_of(row) for row in final.values()], out)
    except OSError as exc:
        logger.error("the class views (index.html, grades.csv) were not written: %s", exc)
    return results, [s.name for s, k in zip(submissions, keys, strict=True) if k not in final]


def _grade(batch: _Batch, todo: list[int], workdir: Path, stop: fanout.Stop, how: How) -> None:
    """Grade ``batch``'s submissions ``todo`` with the executor ``how`` asks for."""
    events = _Subset(batch, todo)
    subs = [batch.submissions[i] for i in todo]
    if not subs:
        return  # nothing to start a cluster for
    if how.executor == "dask":
        try:
            from grader.executors import cluster
        except ImportError as exc:
            raise GraderError(f"--executor dask needs Dask: pip install 'nngrader[scale]' "
                              f"({exc})") from None  # fmt: skip
        cluster.parallel(subs, batch.settings, stop, events, scheduler=how.scheduler,
                         workers=how.jobs)  # fmt: skip
        return
    jobs = [
        partial(grade_one, s, batch.settings, workdir / f"{i}")
        for i, s in zip(todo, subs, strict=True)
    ]
    if how.jobs <= 1:
        fanout.serial(jobs, stop, events.begin, events.done)
    else:
        local.parallel(jobs, stop, events, jobs=how.jobs)


def _restore(out: Path, store: Store) -> None:
    """Render again every finalised row whose files are not all there (a run killed between
    finalising and rendering, a write that failed, the machine stopping before the files were
    flushed, files deleted since)."""
    for key, files in store.written():
        if files is not None and _readable(out / key.folder / RESULTS):
            continue
        row = store.row(key)
        if row is None:
            continue
        try:
            result = result_of(row)
        except ValueError as exc:
            logger.error("%s: its stored result cannot be read: %s", key.folder, exc)
            continue
        render_stored(out, store, key, replace(result, unwritten=None))


def _readable(path: Path) -> bool:
    """Whether ``path`` holds a JSON document (after the machine stopped, a file renamed into
    place may be there and empty: its data was never flushed)."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


class _Batch:
    """The submissions this run grades, and what happens to each (``grader.executors.Events``,
    by index in ``submissions``)."""

    def __init__(
        self,
        submissions: list[Submission],
        keys: list[Key],
        contents: list[str],
        *,
        out: Path,
        store: Store,
        settings: Settings,
        hooks: Hooks,
    ) -> None:
        self.submissions, self.keys, self.contents = submissions, keys, contents
        self.out, self.store, self.settings, self.hooks = out, store, settings, hooks

    def exhausted(self) -> list[int]:
        """Finalise as failed those whose attempts ran out in runs that died; the others'
        indices, to grade."""
        todo = []
        for i, key in enumerate(self.keys):
            row = self.store.row(key)
            if row is not None and row.attempts >= MAX_ATTEMPTS:
                self._started(i)
                self._fail(i, row.reason or "the batch stopped while it was being graded")
            else:
                todo.append(i)
        return todo

    def begin(self, i: int) -> None:
        self.store.start(self.keys[i])
        self._started(i)

    def _started(self, i: int) -> None:
        if self.hooks.on_start:
            self.hooks.on_start(self.submissions[i].name, len(self.submissions))

    def done(self, i: int, document: Document) -> None:
        try:
            result = from_instructor(document)
        except ValueError as exc:  # a grader bug: the worker's document is not one
            result = self._failed(i, f"the grader's result could not be read ({exc})")
        self._finalise(i, result, failed=False)

    def lost(self, i: int, reason: str) -> bool:
        if self.store.crashed(self.keys[i], reason):
            logger.warning("%s: %s; grading it again", names.shown(self.submissions[i].name),
                           reason)  # fmt: skip
            return True
        self._fail(i, reason)
        return False

    def _fail(self, i: int, reason: str) -> None:
        self._finalise(
            i,
            self._failed(
                i,
                f"not graded: its grading ended without a result {MAX_ATTEMPTS} times (the last: "
                f"{reason}); it is not tried again unless its files change or the batch is "
                "graded with --regrade",
            ),
            failed=True,
        )

    def _failed(self, i: int, error: str) -> SubmissionResult:
        return pipeline.failed(
            self.submissions[i].name, self.settings.spec, "", self.settings.isolation, error
        )

    def _finalise(self, i: int, result: SubmissionResult, *, failed: bool) -> None:
        """Store ``result`` (once), then render it from the store and tell the caller."""
        key = self.keys[i]
        document = to_instructor(replace(result, folder=key.folder, unwritten=None))
        if not self.store.finalise(key, self.contents[i], document, failed=failed):
            logger.warning("%s: a second result was ignored (it is finalised already)",
                           names.shown(key.name))  # fmt: skip
            return
        result = render_stored(self.out, self.store, key, from_instructor(document))
        if self.hooks.on_result:
            self.hooks.on_result(result, self.out / key.folder / RESULTS)


class _Subset:
    """``Events`` by index in a subset of a ``_Batch`` (what is graded of it)."""

    def __init__(self, batch: _Batch, indices: list[int]) -> None:
        self.batch, self.indices = batch, indices

    def begin(self, j: int) -> None:
        self.batch.begin(self.indices[j])

    def done(self, j: int, document: Document) -> None:
        self.batch.done(self.indices[j], document)

    def lost(self, j: int, reason: str) -> bool:
        return self.batch.lost(self.indices[j], reason)
