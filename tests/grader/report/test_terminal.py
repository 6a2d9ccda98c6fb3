"""Terminal views: the check table fits the terminal and prints no control characters, colour
follows the conventions, and the batch progress and summary say what an instructor needs."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from grader.report import progress, terminal
from grader.report.progress import Progress, clock, eta, plain_line, summary
from grader.report.terminal import DETAIL_LINES, check_table, table_width, use_color
from grader.results import CheckResult, SubmissionResult
from tests.grader.report.factories import result

HOSTILE = "evil\x1b[2J\rbob\x07\u202e\x9b"
"""Erase the screen, back to the line's start, a bell, a bidi override and a C1 CSI."""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check(
    check_id: str, status: str, *, message: str = "", title: str | None = None
) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        part="fc",
        title=title or check_id,
        status=status,  # type: ignore[arg-type]
        score=2.0 if status == "passed" else 0.0,
        max_score=2.0,
        visibility="visible",
        message=message,
    )


LONG = "worst element at index (3, 17): got 1.2345678 expected 1.2345 " * 6 + "/a/" + "x" * 150


def long_result() -> SubmissionResult:
    return result(
        check("affine_forward", "passed"),
        check("batchnorm_backward", "failed", message=LONG, title="Batch norm backward " * 8),
        check("fc_net", "error", message=HOSTILE + " " + LONG * 3),
        name="a-student-with-a-rather-long-folder-name-" + "z" * 40,
        notes=("a note that goes on " * 10,),
    )


def controls(text: str) -> set[str]:
    """Control characters in ``text`` other than the newlines between lines."""
    return {c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F}


@pytest.mark.parametrize("width", [80, 100, 140])
def test_the_check_table_fits_the_width(width: int) -> None:
    table = check_table(long_result(), width)
    assert max(map(len, table.splitlines())) <= width
    assert "Total: 2 / 6" in table
    # Long messages use the room there is, and are cut after a few lines.
    assert max(map(len, table.splitlines())) > width - 10
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  ERROR")) + 1
    detail = [line for line in lines[start:] if line.startswith(" " * 20)]
    assert len(detail) == DETAIL_LINES and detail[-1].endswith("...")


def test_a_narrow_terminal_still_gets_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert table_width() == 80
    monkeypatch.setenv("COLUMNS", "123")
    assert table_width() == 123
    assert max(map(len, check_table(long_result()).splitlines())) <= 123


def test_no_control_character_reaches_the_terminal() -> None:
    hostile = result(
        check("x", "failed", message=HOSTILE, title=HOSTILE), name=HOSTILE, notes=(HOSTILE,)
    )
    for table in (check_table(hostile, 80), check_table(long_result(), 80)):
        assert not controls(table)
    assert "\\x1b[2J" in check_table(hostile, 80)  # shown, escaped
    assert not controls(terminal.one_line(hostile))


def test_colour_marks_the_status_only() -> None:
    plain = check_table(long_result(), 100)
    coloured = check_table(long_result(), 100, color=True)
    assert "\x1b[32mok\x1b[0m" in coloured and "\x1b[31mFAIL\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain
    assert not controls(ANSI.sub("", coloured))


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "no_color", "expected"),
    [(True, None, True), (True, "1", False), (False, None, False), (True, "", True)],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str | None, expected: bool
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)  # https://no-color.org: set and not empty
    assert use_color(Stream(tty)) is expected


# -- progress -------------------------------------------------------------------------------------


def test_clock_and_eta() -> None:
    assert [clock(s) for s in (0, 5.4, 65, 3725)] == ["0:00", "0:05", "1:05", "1:02:05"]
    assert eta(0, 6, 10.0) is None
    assert eta(2, 6, 10.0) == 20.0
    assert eta(6, 6, 30.0) == 0.0


def test_a_plain_line_says_how_far_how_long_and_who() -> None:
    line = plain_line(2, 6, 10.0, "bob", ["carol", HOSTILE])
    assert line.startswith("[2/6] 0:10 elapsed, ETA 0:20: finished bob; grading carol, ")
    assert not controls(line)
    assert plain_line(0, 3, 1.0, "a", []).startswith("[0/3] 0:01 elapsed, ETA ?")


def test_the_summary_counts_errors_with_their_reasons_and_the_mean() -> None:
    results = [
        result(check("a", "passed"), check("b", "passed"), name="ada"),
        result(check("a", "passed"), check("b", "failed"), name="bob"),
        result(name=HOSTILE, error="the zip file is broken\x1b[2J"),
    ]
    lines = summary(results, 75.0)
    assert lines[0] == "3 submission(s) in 1:15: 2 graded, 1 errored, mean score 2.0/4"
    assert lines[1] == "errored (score 0):"
    assert lines[2].endswith(": the zip file is broken\\x1b[2J") and not controls(lines[2])
    assert len(lines) == 3
    stopped = summary(results[:1], 3.0, not_graded=["cy", "dee"])
    assert stopped[-1] == "interrupted: 2 submission(s) not graded: cy, dee"


def test_the_mean_is_shown_out_of_a_maximum_only_when_there_is_one() -> None:
    other = SubmissionResult(
        name="x", assignment="b", detection="", checks=(check("z", "passed"),), isolation="p"
    )
    two = [result(check("a", "passed"), check("b", "passed")), other]
    assert summary(two, 1.0)[0].endswith("mean score 3.0")
    assert summary([], 1.0) == ["0 submission(s) in 0:01: 0 graded, 0 errored"]


def ticking(*times: float) -> Iterator[float]:
    yield from times


def test_without_a_terminal_each_finished_submission_gets_a_plain_line() -> None:
    err, out = Stream(False), Stream(False)
    clock_ = ticking(0.0, 4.0, 9.0)
    with Progress(err, out=out, now=lambda: next(clock_)) as bar:
        bar.started("ada", 3)
        bar.started("bob", 3)
        bar.echo("ada  59.0/59.0")
        bar.finished("ada")
        bar.started("cy", 3)
        bar.echo("bob  ERROR")
        bar.finished("bob")
    assert err.getvalue().splitlines() == [
        "[1/3] 0:04 elapsed, ETA 0:08: finished ada; grading bob",
        "[2/3] 0:09 elapsed, ETA 0:04: finished bob; grading cy",
    ]
    assert out.getvalue().splitlines() == ["ada  59.0/59.0", "bob  ERROR"]


def test_on_a_terminal_a_bar_shows_the_count_and_who_is_being_graded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err, out = Stream(True), Stream(True)
    monkeypatch.setattr(progress.sys, "stdout", out)  # tqdm.write clears bars on std streams
    # No monitor thread outliving the test (a later fork of this process would warn about it).
    monkeypatch.setattr(progress.tqdm, "monitor_interval", 0)
    with Progress(err, out=out) as bar:
        bar.started("ada", 2)
        bar.started("bob", 2)
        bar.echo("ada  59.0/59.0")
        bar.finished("ada")
        drawn = err.getvalue()
    assert "1/2" in drawn and "bob" in drawn and "grading" in drawn
    assert "[1/2] " not in drawn  # no plain lines on a terminal
    assert out.getvalue() == "ada  59.0/59.0\n"
