"""Rendering stored results: what a batch writes from its store, and ``nngrader report DIR``,
every view written again without regrading.

A result is stored as an instructor.json document (``grader.report.instructor``), which holds
all of it: in the results store's row (``grader.store``, the truth) and in
``DIR/<folder>/instructor.json``. ``nngrader report`` reads the store when ``DIR`` has one (its
rows say which folder is whose, and a file edited or deleted since changes nothing), else the
files (a folder copied without its hidden store, or written by an nngrader before the store);
the render stage writes every per-submission view again, and the class views follow. No student
code runs. ``release`` shows students the checks withheld until release
(``grader.report.student_view``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from grader.errors import GraderError
from grader.report.class_views import write_class_views
from grader.report.instructor import from_instructor
from grader.report.render import INSTRUCTOR, render
from grader.results import SubmissionResult
from grader.store import DATABASE, Key, Row, Store

__all__ = ["render_stored", "rerender", "result_of"]


def result_of(row: Row) -> SubmissionResult:
    """The result a finalised row holds, in its folder (and why it is not written, if so).

    Raises:
        ValueError: the stored document is not a result.
    """
    result = from_instructor(row.result or {})
    return replace(result, folder=row.key.folder, unwritten=row.unwritten)


def render_stored(
    out: Path, store: Store, key: Key, result: SubmissionResult, *, release: bool = False
) -> SubmissionResult:
    """Write ``result``'s files and record them in the store; a write failure is that
    submission's alone (``unwritten`` says why, and the next run tries again)."""
    try:
        path = render(result, out, release=release)
    except (OSError, ValueError) as exc:
        unwritten = f"{type(exc).__name__}: {exc}"
        store.rendered(key, (), unwritten)
        return replace(result, unwritten=unwritten)
    written = sorted(p for p in path.parent.iterdir() if p.is_file() and p.name[0] != ".")
    store.rendered(key, [p.relative_to(out).as_posix() for p in written])
    return result


def rerender(out: Path, *, release: bool) -> list[SubmissionResult]:
    """Re-render every submission of ``out`` (from its store, else its files) and the class
    views; returns the results.

    Raises:
        GraderError: ``out`` holds no graded submission, its store is in use by a batch or a
            service, or some results could not be read or written (every other one is
            re-rendered first; the message names each problem).
    """
    if (out / DATABASE).is_file():
        with Store.open(out) as store:
            return _from_store(out, store, release)
    return _from_files(out, release)


def _from_store(out: Path, store: Store, release: bool) -> list[SubmissionResult]:
    rows = list(store.rows("done", "failed"))
    if not rows:
        raise GraderError(f"{out}'s results store holds no graded submission")
    results: list[SubmissionResult] = []
    problems: list[str] = []
    for row in rows:
        try:
            result = result_of(row)
        except ValueError as exc:
            problems.append(f"{row.key.folder}: its stored result cannot be read: {exc}")
            continue
        result = render_stored(out, store, row.key, replace(result, unwritten=None),
                               release=release)  # fmt: skip
        if result.unwritten:
            problems.append(f"{out / row.key.folder}: {result.unwritten}")
        results.append(result)
    _finish(out, results, len(rows), problems)
    return results


def _from_files(out: Path, release: bool) -> list[SubmissionResult]:
    paths = sorted(out.glob(f"*/{INSTRUCTOR}"))
    if not paths:
        raise GraderError(f"{out} holds no */{INSTRUCTOR}: grade into it with nngrader grade")
    results: list[SubmissionResult] = []
    problems: list[str] = []
    for path in paths:
        try:
            result = from_instructor(json.loads(path.read_text(encoding="utf-8")))
            # The folder it was found in, whatever the document says: views link by folder.
            result = replace(result, folder=path.parent.name)
            render(result, out, release=release)
        except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
            problems.append(f"{path}: {exc}")
            continue
        results.append(result)
    _finish(out, results, len(paths), problems)
    return results


def _finish(out: Path, results: list[SubmissionResult], total: int, problems: list[str]) -> None:
    """Write the class views of ``results``; raise if anything of the ``total`` failed.

    Raises:
        GraderError: ``problems`` (or the class views) name what was not re-rendered.
    """
    try:
        write_class_views(results, out)
    except OSError as exc:
        problems.append(f"the class views in {out}: {exc}")
    if problems:
        done = len(results) - sum(1 for r in results if r.unwritten)
        raise GraderError(
            f"re-rendered {done} of {total}; not re-rendered:\n  " + "\n  ".join(problems)
        )
