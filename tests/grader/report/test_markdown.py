"""The Markdown summary: inert student text, nothing of a withheld check, always under 1 MiB."""

from __future__ import annotations

import re
from dataclasses import replace

import mistune
import pytest

from grader.report.markdown import MAX_BYTES, MESSAGE_CHARS, inert, summary_markdown
from grader.results import SubmissionResult
from tests.grader.report.factories import SECRET, check, result, secret_check

HOSTILE = (
    "=cmd|' /C calc'!A0 <script>alert(1)</script> <img src=x onerror=alert(1)> ]]> `code` "
    "**bold** [link](https://evil.example) ![img](x.png) https://evil.example www.evil.example "
    "a@evil.example @mention #1 $x^2$ ~~s~~ &lt; \\ \x00\x1b[2J\u202e line\nbreak\r\n| cell |"
)
# CommonMark/GFM with raw HTML let through: whatever is not escaped renders as markup.
RENDER = mistune.create_markdown(escape=False, plugins=["table", "url", "strikethrough", "math"])


def test_inert_text_renders_as_exactly_its_words() -> None:
    text = inert(HOSTILE)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\u202e" not in text
    html = RENDER(f"| a |\n| --- |\n| {text} |\n")
    assert html.count("<td") == 1  # one cell: the pipes stayed text
    for tag in ("<script", "<img", "<a ", "<strong", "<em", "<code", "<del", "<span"):
        assert tag not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[link](https://evil.example)" in html


@pytest.mark.parametrize("char", list("\\`*_{}[]<>#+!|~$&@"))
def test_every_markup_character_is_escaped(char: str) -> None:
    escaped = inert(f"a{char}b")
    assert escaped == f"a\\{char}b"


def test_links_github_would_make_are_broken_and_other_text_kept() -> None:
    assert inert("see https://x.io and WWW.x.io") == "see https\\://x.io and WWW\\.x.io"
    assert inert("worst: got 1.5 (layers.py)") == "worst: got 1.5 (layers.py)"


def test_a_long_message_is_cut() -> None:
    text = inert("x" * 10_000, MESSAGE_CHARS)
    assert len(text) == MESSAGE_CHARS and text.endswith("…")


def test_hostile_names_and_messages_are_inert_in_the_summary() -> None:
    hostile = check("a", message=HOSTILE, diagnosis=HOSTILE, title=HOSTILE)
    text = summary_markdown(
        [result(hostile, name=HOSTILE, notes=(HOSTILE,)), result(name=HOSTILE + "2", error=HOSTILE)]
    )
    html = RENDER(text)
    for tag in ("<script", "<img", "<a ", "<em", "<code", "<del"):
        assert tag not in html
    assert html.count("<strong>") == 1  # our own "Could not grade:", not the student's **bold**
    row = next(line for line in text.splitlines() if line.startswith("| ❌"))
    assert (
        len(re.findall(r"(?<!\\)\|", row)) == 5
    )  # four cells, however many pipes the student wrote


def test_the_summary_shows_the_visible_checks_and_only_the_points_of_the_others() -> None:
    text = summary_markdown(
        [
            result(
                check("a", status="passed"),
                secret_check("b", "visible"),
                secret_check("c", "hidden"),
                secret_check("d", "after_due_date"),
                replace(secret_check("e", "after_published"), max_score=3.0),
                extra={"accuracy": {"val": 0.5125, "test": 0.49, "grades": [{"check": "a"}]}},
            )
        ]
    )
    assert text.startswith("## nngrader results: 1 submission\n\n### alice — 2 / 4 points")
    assert "| ✅ passed | 2/2 | fc: a output |  |" in text
    assert "| 💥 error | 0/2 | fc: b output |" in text and "looks like: looks like" in text
    assert (
        "Not shown here: 5 points (2 checks) pending, shown once released; "
        "2 points (1 check) graded by your instructor." in text
    )
    assert "Validation accuracy measured by the grader: 51.25 %." in text
    # The visible check's text is there (control); none of the withheld checks' is.
    assert text.count(inert(SECRET)) == 3  # b's message, its note and its diagnosis
    for withheld in ("c output", "d output", "e output"):
        assert withheld not in text


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published"])
def test_a_withheld_check_leaves_no_trace(visibility: str) -> None:
    text = summary_markdown([result(check("a", status="passed"), secret_check("kept", visibility))])
    assert inert(SECRET) not in text and SECRET not in text and "kept" not in text


def test_a_submission_not_graded_says_why() -> None:
    text = summary_markdown(
        [
            SubmissionResult(
                name="x", assignment="", detection="", checks=(), isolation="p", error="no files"
            )
        ]
    )
    assert "### x — not graded (no assignment)\n\n**Could not grade:** no files\n" in text


def big_batch(count: int) -> list[SubmissionResult]:
    long = "é" * 50_000 + HOSTILE
    checks = tuple(
        check(f"c{i}", message=long, diagnosis=long, title=long[:200]) for i in range(40)
    )
    return [result(*checks, name=f"{i} {long[:1000]}", error=long) for i in range(count)]


def test_five_hundred_big_results_stay_under_one_mebibyte() -> None:
    text = summary_markdown(big_batch(500))
    assert len(text.encode("utf-8")) <= MAX_BYTES
    assert "per-check tables of the last" in text
    assert text.count("\n### ") == 500  # every submission keeps its heading
    assert "| ❌ failed |" in text  # the first ones keep their tables


def test_tables_go_first_then_submissions_when_even_headings_do_not_fit() -> None:
    batch = big_batch(30)
    full = summary_markdown(batch, limit=10 * MAX_BYTES)
    assert "left out" not in full and full.count("| ❌ failed |") == 30 * 40
    small = summary_markdown(batch, limit=15_000)
    assert len(small.encode("utf-8")) <= 15_000
    headings = small.count("\n### ")
    assert 0 < headings < 30
    assert f"The last {30 - headings} submissions are not listed" in small
    tables = small.count("| Status | Points | Check | Details |")
    # tables are kept in order: the first submissions have theirs, the later ones do not
    assert (
        tables < headings
        and f"per-check tables of the last {headings - tables} submissions" in small
    )


def test_the_submission_s_notes_are_listed_under_its_heading() -> None:
    notes = ("12 more points are graded by your instructor", "skipped big.bin: larger than 1 MiB")
    text = summary_markdown([result(check("a"), notes=notes)])
    head = text.split("| Status")[0]
    assert "<details><summary>2 notes</summary>" in head
    assert "- 12 more points are graded by your instructor\n" in head
    assert "- skipped big.bin: larger than 1 MiB\n" in head
    html = RENDER(text)
    assert "<li>12 more points are graded by your instructor</li>" in html
    assert "<details>" not in summary_markdown([result(check("a"))])
