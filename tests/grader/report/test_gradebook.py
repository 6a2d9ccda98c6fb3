"""The gradebook CSV: every check's points, a column union across assignments, inert cells."""

from __future__ import annotations

import csv
import io

import pytest

from grader.report.gradebook import FIXED_AFTER, FIXED_BEFORE, cell, grades_csv, points
from grader.results import CheckResult, SubmissionResult


def check(check_id: str, part: str = "fc", score: float = 1.0, **kw: object) -> CheckResult:
    fields: dict[str, object] = {
        "check_id": check_id,
        "part": part,
        "title": f"{check_id} output",
        "status": "passed" if score else "failed",
        "score": score,
        "max_score": 2.0,
        "visibility": "visible",
        "message": "",
    }
    fields.update(kw)
    return CheckResult(**fields)  # type: ignore[arg-type]


def result(name: str, assignment: str, *checks: CheckResult, **kw: object) -> SubmissionResult:
    return SubmissionResult(
        name=name,
        assignment=assignment,
        detection="",
        checks=checks,
        isolation="process",
        **kw,  # type: ignore[arg-type]
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_row_per_submission_with_every_check_hidden_ones_included() -> None:
    text = grades_csv(
        [
            result(
                "alice",
                "cs231n-2021",
                check("affine_forward", score=2.0),
                check("adam_hidden", score=0.5, visibility="hidden", status="failed"),
                check("batchnorm", part="bn", score=0.0),
                extra={"accuracy": {"val": 0.51234, "test": 0.49}},
            )
        ]
    )
    assert text.endswith("\r\n") and text.count("\r\n") == 2
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header == [
        *FIXED_BEFORE,
        "fc",
        "bn",
        "fc: affine_forward",
        "fc: adam_hidden",
        "bn: batchnorm",
        *FIXED_AFTER,
    ]
    (row,) = rows(text)
    assert row["fc"] == "2.5" and row["bn"] == "0"
    assert row["fc: adam_hidden"] == "0.5"  # an instructor export: hidden points are told
    assert row["accuracy"] == "0.5123" and row["total"] == "2.5" and row["max_score"] == "6"
    assert row["assignment"] == "cs231n-2021" and row["error"] == ""


def test_two_assignments_share_their_common_columns_and_leave_the_rest_empty() -> None:
    a = result(
        "alice",
        "cs231n-2021",
        check("affine_forward"),
        check("layernorm", part="bn"),
        check("adam", score=0.0),
    )
    b = result("bob", "cs231n-2017", check("affine_forward", score=2.0), check("sgd"))
    failed = result("carol", "", error="no course files found")
    text = grades_csv([a, b, failed])
    header = next(csv.reader(io.StringIO(text, newline="")))
    # assignments by id (cs231n-2017 first), each in spec order, checks grouped by part; a
    # shared check shares a column
    assert header[len(FIXED_BEFORE) : -len(FIXED_AFTER)] == [
        "fc",
        "bn",
        "fc: affine_forward",
        "fc: sgd",
        "fc: adam",
        "bn: layernorm",
    ]
    alice, bob, carol = rows(text)
    assert (alice["fc: affine_forward"], alice["fc: sgd"], alice["bn: layernorm"]) == ("1", "", "1")
    assert (alice["fc: adam"], alice["fc"], alice["total"]) == ("0", "1", "2")
    assert (bob["fc: affine_forward"], bob["fc: sgd"], bob["bn"]) == ("2", "1", "")
    assert carol["fc"] == carol["fc: affine_forward"] == "" and carol["total"] == "0"
    assert carol["error"] == "no course files found"
    # The columns do not depend on the order of the submissions.
    assert next(csv.reader(io.StringIO(grades_csv([failed, b, a]), newline=""))) == header


def test_a_part_named_like_a_fixed_column_gets_a_column_of_its_own() -> None:
    text = grades_csv([result("alice", "x", check("c", part="total"))])
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert header.count("total") == 1 and "total #2" in header and "total: c" in header


@pytest.mark.parametrize(
    "hostile",
    [
        "=cmd|' /C calc'!A0",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        '  =HYPERLINK("http://evil")',
        "\uff1d1+1",
    ],
)
def test_a_formula_in_a_student_cell_stays_text(hostile: str) -> None:
    text = grades_csv([result(hostile, "x", check("c"), error=hostile)])
    (row,) = rows(text)
    for column in ("submission", "student", "error"):
        assert row[column].startswith("'"), (column, row[column])


def test_control_characters_are_escaped_and_quotes_survive() -> None:
    name = 'Ann "the\nbest"\x1b[2J\u202e,'
    (row,) = rows(grades_csv([result(name, "x", check("c"), error="line1\r\nline2\x00")]))
    assert row["submission"] == 'Ann "the\\nbest"\\x1b[2J\\u202e,'
    assert row["error"] == "line1\\r\\nline2\\x00"


def test_plain_cells_are_left_alone() -> None:
    assert cell("Müller, Anna") == "Müller, Anna"
    assert cell("cs231n-2021") == "cs231n-2021"  # a '-' inside is not a formula
    assert cell("=1") == "'=1" and cell("") == ""
    assert [points(x) for x in (2.0, 0.0, 2 / 3, 1e-9, 59.5)] == ["2", "0", "0.6667", "0", "59.5"]


@pytest.mark.parametrize(
    ("name", "student", "lms_id"),
    [
        ("Ann Lee_12345_assignsubmission_file_", "Ann Lee", "12345"),  # Moodle
        ("annlee_12345_67890_file", "annlee", "12345"),  # Canvas
        ("alice", "alice", ""),
    ],
)
def test_the_student_and_lms_id_come_from_the_export_name(
    name: str, student: str, lms_id: str
) -> None:
    (row,) = rows(grades_csv([result(name, "x", check("c"))]))
    assert (row["submission"], row["student"], row["lms_id"]) == (name, student, lms_id)


def test_an_accuracy_that_is_not_a_number_is_left_empty() -> None:
    batch = [
        result(f"s{i}", "x", check("c"), extra={"accuracy": value})
        for i, value in enumerate([{"val": None}, {"val": float("nan")}, {"val": True}, "0.5", {}])
    ]
    assert {row["accuracy"] for row in rows(grades_csv(batch))} == {""}
