"""The render stage writes every per-submission view; ``nngrader report`` re-renders them all
from instructor.json without regrading, and ``--release`` shows what was withheld."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.report.instructor import to_instructor
from grader.report.render import render
from grader.report.rerender import rerender
from grader.results import SubmissionResult
from grader.store import Key, Store
from tests.grader.report.test_instructor import rich_result

VIEWS = {"results.json", "instructor.json", "report.html", "report-instructor.html", "output.txt"}


def with_after_due_date(result: SubmissionResult) -> SubmissionResult:
    later = replace(result.checks[0], check_id="later", title="Revealed after the due date")
    return replace(result, checks=(*result.checks, replace(later, visibility="after_due_date")))


def test_every_view_is_written_into_the_submission_folder(tmp_path: Path) -> None:
    result = rich_result()
    path = render(result, tmp_path)
    folder = tmp_path / result.folder
    assert path == folder / "results.json"
    assert VIEWS | {"a.html"} == {p.name for p in folder.iterdir()}
    assert (folder / "output.txt").read_text() == "everything printed"


def test_report_re_renders_every_view_the_same_from_instructor_json(tmp_path: Path) -> None:
    first = [rich_result(), replace(rich_result(), name="bob", folder="bob", log="other")]
    for result in first:
        render(result, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for path in before:
        path.unlink()  # the views go; instructor.json must hold everything to make them again
    for result in first:
        (tmp_path / result.folder / "instructor.json").write_bytes(
            before[tmp_path / result.folder / "instructor.json"]
        )
    again = rerender(tmp_path, release=False)
    assert sorted(r.name for r in again) == sorted(r.name for r in first)
    for path, data in before.items():
        assert path.read_bytes() == data, path
    assert (tmp_path / "index.html").is_file() and (tmp_path / "grades.csv").is_file()


def test_release_shows_the_checks_withheld_until_release(tmp_path: Path) -> None:
    result = with_after_due_date(rich_result())
    render(result, tmp_path)
    report = tmp_path / result.folder / "report.html"
    assert "Revealed after the due date" not in report.read_text()
    rerender(tmp_path, release=True)
    assert "Revealed after the due date" in report.read_text()


def test_report_of_a_folder_without_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="holds no"):
        rerender(tmp_path, release=False)


def test_a_broken_instructor_json_is_named_and_the_others_are_re_rendered(tmp_path: Path) -> None:
    render(rich_result(), tmp_path)
    (tmp_path / "mallory").mkdir()
    (tmp_path / "mallory" / "instructor.json").write_text("{not json")
    with pytest.raises(GraderError, match="mallory") as raised:
        rerender(tmp_path, release=False)
    assert "re-rendered 1 of 2" in str(raised.value)
    index = (tmp_path / "index.html").read_text()
    assert json.loads((tmp_path / rich_result().folder / "results.json").read_text())
    assert "mallory" not in index


def stored(out: Path, *results: SubmissionResult) -> None:
    """Store ``results`` finalised in ``out``'s results store, as a batch does (unrendered)."""
    with Store.open(out) as store:
        keys = [Key(r.name, r.folder or r.name) for r in results]
        store.plan([(k, "content") for k in keys])
        for key, result in zip(keys, results, strict=True):
            store.start(key)
            store.finalise(key, "content", to_instructor(result), failed=False)


def test_report_reads_the_store_where_there_is_one(tmp_path: Path) -> None:
    ada = rich_result()
    bob = replace(rich_result(), name="bob", folder="bob-2", log="other")
    stored(tmp_path, ada, bob)
    render(replace(ada, name="stale", log="an older grading"), tmp_path)  # a file edited since
    (tmp_path / "mallory").mkdir()
    (tmp_path / "mallory" / "instructor.json").write_text("{not json")  # not the store's
    again = rerender(tmp_path, release=False)
    assert sorted((r.name, r.folder) for r in again) == [(ada.name, ada.folder), ("bob", "bob-2")]
    instructor = json.loads((tmp_path / ada.folder / "instructor.json").read_text())
    assert instructor["name"] == ada.name and "an older grading" not in json.dumps(instructor)
    assert (tmp_path / "bob-2" / "report.html").is_file()
    with Store.open(tmp_path) as store:  # and the files it wrote are recorded
        row = store.row(Key("bob", "bob-2"))
        assert row is not None and "bob-2/results.json" in (row.files or ())


def test_report_of_a_store_without_results_is_a_clear_error(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with pytest.raises(GraderError, match="holds no graded submission"):
        rerender(tmp_path, release=False)


SECRET = "HIDDEN-INPUT-7f3a9c"  # noqa: S105 - a stand-in for a hidden check's inputs


def with_secrets(result: SubmissionResult) -> SubmissionResult:
    """``result`` plus a hidden check whose every text holds SECRET, and an after-due-date one
    whose output and diagnosis do (its message and comparisons show once released)."""
    base = replace(
        result.checks[0],
        message=f"worst: got 1, expected {SECRET}",
        output=f"printed {SECRET}",
        diagnosis=f"looks like {SECRET}",
        comparisons=tuple(replace(c, message=SECRET) for c in result.checks[0].comparisons),
    )
    hidden = replace(base, check_id="h", title="hidden check", visibility="hidden")
    later = replace(
        base,
        check_id="l",
        title="later check",
        visibility="after_due_date",
        message="later message",
        comparisons=result.checks[0].comparisons,
    )
    return replace(result, checks=(*result.checks, hidden, later))


def test_no_file_a_student_sees_holds_a_hidden_checks_text(tmp_path: Path) -> None:
    """Searched on disk, as written: results.json and report.html (before and after release),
    the JUnit and Markdown views; the instructor's files keep it."""
    from grader.report.junit import junit_xml
    from grader.report.markdown import summary_markdown

    result = with_secrets(rich_result())
    folder = tmp_path / result.folder
    render(result, tmp_path)
    student = {
        "results.json": (folder / "results.json").read_text(),
        "report.html": (folder / "report.html").read_text(),
        "junit": junit_xml([result]),
        "markdown": summary_markdown([result]),
    }
    rerender(tmp_path, release=True)
    student["released report.html"] = (folder / "report.html").read_text()
    assert "hidden check" in student["released report.html"]
    assert "later message" in student["released report.html"]
    assert "later message" not in student["report.html"]
    assert [view for view, text in student.items() if SECRET in text] == []
    for name in ("instructor.json", "report-instructor.html"):
        assert SECRET in (folder / name).read_text()
