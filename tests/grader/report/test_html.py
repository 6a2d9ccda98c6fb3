"""The HTML reports: what each one shows, what the student's never shows, and that every page is
inert, self-contained text whatever a student named or printed."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, replace
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from grader import sanitize
from grader.accuracy.formula import grade
from grader.compare import compare
from grader.report import html, plots
from grader.report.names import readable, slug
from grader.report.student_view import StudentView, Withheld
from grader.results import CheckResult, Comparison, ModuleProblem, Raised, SubmissionResult
from grader.spec import FinalAccuracy

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>\x1b[2J\x00\u202e'
"""Student text: markup, an attribute break-out, a terminal escape, NUL, a bidi override."""
STUDENT_SECRETS = (
    "HIDDEN-MESSAGE-SECRET",
    "HIDDEN-OUTPUT-SECRET",
    "HIDDEN-COMPARISON-SECRET",
    "HIDDEN-DIAGNOSIS-SECRET",
    "AFTER-OUTPUT-SECRET",
    "LOG-SECRET",
)
"""Planted where a student report must never show them, released or not."""
SECRETS = (*STUDENT_SECRETS, "AFTER-MESSAGE-SECRET", "HIDDEN-TITLE")
DIAGNOSIS = "the mask is taken from dout instead of x"


def accuracy_message() -> str:
    """An accuracy check's message as ``grader.accuracy.check`` words it, with the real formula."""
    worked = grade(FinalAccuracy(lower=32, upper=60, points=10), 513, 1000).worked
    return (
        "validation accuracy 51.30% (513/1000) and test accuracy 49.80% (498/1000), measured by "
        f"the grader (model from npz)\ngrade on the validation split: {worked}"
    )


def check(
    check_id: str, part: str, status: str, score: float, max_score: float, **kw: object
) -> CheckResult:
    """A check result with the defaults of a visible check that says what happened."""
    fields: dict[str, object] = {
        "title": check_id,
        "visibility": "visible",
        "message": f"{check_id} {status}",
        **kw,
    }
    return CheckResult(
        check_id=check_id, part=part, status=status, score=score,  # type: ignore[arg-type]
        max_score=max_score, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def failing(name: str, shape: tuple[int, ...], seed: int = 0) -> Comparison:
    """A real failed comparison (``grader.compare``), with its error sample."""
    got = np.random.default_rng(seed).normal(size=shape)
    return compare(name, got, np.zeros(shape), rtol=1e-6, atol=1e-8)


def submission() -> SubmissionResult:
    """One result with every kind of thing a report shows, hostile text and secrets planted."""
    grid, histogram = failing("dx", (4, 5)), failing("grads['W1']", (80, 80))
    problem = ModuleProblem(
        "cs231n/optim.py", "SyntaxError: invalid syntax", "cs231n/optim.py", 3, "x = <b>" + HOSTILE
    )
    hidden = replace(failing("dx", (3, 3), seed=1), message="HIDDEN-COMPARISON-SECRET")
    checks = (
        check("affine_forward", "layers", "passed", 2, 2, title="affine_forward output",
              comparisons=(compare("out", np.ones(3), np.ones(3), rtol=1e-6, atol=1e-8),)),
        check("relu_backward", "layers", "failed", 0, 2, title="relu_backward dx",
              message=grid.message, comparisons=(grid,), diagnosis=DIAGNOSIS, output=HOSTILE),
        check("fc_loss", "nets", "failed", 0, 3, message=histogram.message,
              comparisons=(histogram,), root_cause="relu_backward"),
        check("train", "nets", "passed", 1, 1, curves={"loss": (2.3, 1.8, 1.2), "val_acc": (0.3,)}),
        check("fc_hidden", "nets", "failed", 0, 4, visibility="hidden", title="HIDDEN-TITLE",
              message="HIDDEN-MESSAGE-SECRET", output="HIDDEN-OUTPUT-SECRET", comparisons=(hidden,),
              diagnosis="HIDDEN-DIAGNOSIS-SECRET", curves={"loss": (9.0, 8.0)},
              redacted="returned a value that is not an array"),
        check("fc_after", "nets", "failed", 0, 3, visibility="after_due_date",
              message="AFTER-MESSAGE-SECRET", output="AFTER-OUTPUT-SECRET",
              comparisons=(failing("scores", (2, 6), seed=2),)),
        check("final_accuracy", "nets", "failed", 95 / 14, 10, message=accuracy_message(),
              title="final model accuracy (measured)", credit=Fraction(19, 28)),
        check("adam", "optim", "error", 0, 2, blocked_by=problem,
              message="`cs231n/optim.py` does not import"),
        check("rmsprop", "optim", "error", 0, 1, output="printed " + HOSTILE,
              message="raised ValueError: " + HOSTILE + " (cs231n/layers.py, line 12)",
              raised=Raised("ValueError", " (cs231n/layers.py, line 12)")),
    )  # fmt: skip
    answer = {"question": "Inline Question 1: why?", "text": "Because " + HOSTILE}
    notebooks = [
        {"path": "FullyConnectedNets.ipynb", "part": "fc", "executed": True, "error_cells": [3, 7],
         "answers": [answer], "printed": {"val_acc": 0.55}},
        {"path": "BatchNormalization.ipynb", "part": "bn", "executed": False, "error_cells": [],
         "answers": [], "printed": {}},
        {"path": "broken.ipynb", "part": None, "executed": False, "error_cells": [], "answers": [],
         "printed": {}, "problem": "not JSON"},
    ]  # fmt: skip
    extra = {
        "files": {"layers": "cs231n/layers.py"},
        "stand_ins": {"cs231n/layer_utils.py": "starter"},
        "module_problems": [asdict(problem)],
        "accuracy": {"val": 0.513, "test": 0.498, "printed_val": 0.55, "source": "npz",
                     "error": None, "flags": ["validation accuracy is 7.00 percentage points "
                                              "above test accuracy"]},
        "notebooks": notebooks,
        "manual_grading": {"answers": 1, "points_each": 2.0, "points": 2.0},
        "executed": [{"notebook": "FullyConnectedNets.ipynb", "seconds": 12.5, "model": "read",
                      "cells": {"ok": 30, "error": 2, "timeout": 0, "not_run": 1}}],
    }  # fmt: skip
    return SubmissionResult(
        name=HOSTILE, assignment="cs231n-2021", detection="--assignment", checks=checks,
        isolation="bwrap", notes=("a note " + HOSTILE,), seconds=3.25, extra=extra,
        log="LOG-SECRET " + HOSTILE, files={"FullyConnectedNets.executed.html": "<html></html>"},
    )  # fmt: skip


class Page(HTMLParser):
    """A page as a browser's parser reads it: its tags, its text, its tables and its policy."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.chunks: list[str] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._sections: dict[str, list[str]] = {}
        self._open: list[str] = []
        self._in: str | None = None
        self._table: list[list[str]] | None = None

    @classmethod
    def parse(cls, text: str) -> Page:
        parsed = cls()
        parsed.feed(text)
        parsed.close()
        return parsed

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag in ("style", "script"):
            self._in = tag
        if tag == "section":
            self._open.append(values.get("id", ""))
        if tag == "table" and self._open:
            self._table = self.tables.setdefault(self._open[-1], [])
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in ("td", "th") and self._table is not None:
            self._table[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = None if tag in ("style", "script") else self._in
        if tag == "section" and self._open:
            self._open.pop()
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)
        else:
            self.chunks.append(data)
            for section in self._open:
                self._sections.setdefault(section, []).append(data)
            if self._table and self._table[-1]:
                self._table[-1][-1] = (self._table[-1][-1] + data).strip()

    @property
    def text(self) -> str:
        """The text a reader sees, whitespace runs as one space."""
        return " ".join("".join(self.chunks).split())

    def section_text(self, section: str) -> str:
        return " ".join("".join(self._sections[section]).split())

    def table(self, section: str) -> list[list[str]]:
        return self.tables[section]

    def count(self, tag: str) -> int:
        return sum(t == tag for t, _ in self.tags)

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "a"]

    def policy(self) -> dict[str, list[str]]:
        (content,) = [
            a["content"] for t, a in self.tags
            if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
        ]  # fmt: skip
        return {d.split()[0]: d.split()[1:] for d in content.split(";")}

    def assert_inert(self, *, script: bool) -> None:
        """Only the page's own tags: no handler attributes, no script but its own, images only
        as PNG data URLs, links only within the page or to relative paths."""
        for tag, attrs in self.tags:
            assert tag not in ("iframe", "object", "embed", "link", "base", "form"), tag
            assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
            if tag == "img":
                assert plots.is_data_url(attrs["src"]), attrs["src"][:80]
            if tag == "a":
                assert ":" not in attrs["href"] and not attrs["href"].startswith("//")
        assert self.count("script") == (1 if script else 0)
        assert self.count("style") == 1


def page(text: str) -> Page:
    return Page.parse(text)


@pytest.fixture(scope="module")
def result() -> SubmissionResult:
    return submission()


@pytest.mark.parametrize("release", [False, True])
def test_hostile_text_in_the_student_report_is_only_ever_text(
    result: SubmissionResult, release: bool
) -> None:
    text = html.student_report(result, release=release)
    parsed = page(text)
    parsed.assert_inert(script=False)
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the name, the output, the answer
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "\\x1b[2J" in parsed.text  # shown, as an escape
    assert parsed.count("img") == 3  # the visible failures' heat map and histogram, the curves


def test_the_instructor_report_and_the_index_are_inert_too(result: SubmissionResult) -> None:
    page(html.instructor_report(result)).assert_inert(script=False)
    index = html.class_index([result])
    page(index).assert_inert(script=True)
    assert "<script>alert" not in index and "\x1b" not in index


@pytest.mark.parametrize("release", [False, True])
def test_what_the_student_report_never_shows(result: SubmissionResult, release: bool) -> None:
    """Not a hidden check's message, output, comparisons or diagnosis, nor what an
    after-the-due-date check printed, nor the instructor's log, released or not; no plot of a
    check that is not visible (its errors are a picture of its expected values)."""
    text = page(html.student_report(result, release=release)).text
    raw = html.student_report(result, release=release)
    for secret in STUDENT_SECRETS:
        assert secret not in raw, secret
    for check in result.checks:
        if check.visibility != "visible":
            for comparison in check.comparisons:
                assert comparison.errors is not None
                assert plots.error_plot(comparison.errors) not in raw
            if check.curves:
                assert str(plots.curves_plot(check.curves)) not in raw
    assert ("AFTER-MESSAGE" in text) is release
    assert ("HIDDEN-TITLE" in text) is release


def test_the_student_report_says_what_it_withholds_until_release(result: SubmissionResult) -> None:
    before = page(html.student_report(result)).text
    assert "9.79 / 21 points" in before
    assert "3 points pending (1 check shown after the due date)" in before
    assert "4 points graded by your instructor (1 check)" in before
    after = page(html.student_report(result, release=True)).text
    assert "9.79 / 28 points" in after
    assert "pending" not in after and "graded by your instructor" not in after


def test_the_student_report_reads_the_result_only_through_the_student_view(
    result: SubmissionResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = html.student_view(result)
    one = StudentView(checks=shown.checks[:1], pending=Withheld(2, 5.0), by_instructor=Withheld())
    monkeypatch.setattr(html, "student_view", lambda r, release=False: one)
    text = page(html.student_report(result)).text
    assert shown.checks[0].title in text and "5 points pending" in text
    assert all(c.title not in text for c in shown.checks[1:])


def test_the_student_report_explains_each_failure(result: SubmissionResult) -> None:
    parsed = page(html.student_report(result))
    text = parsed.text
    # Points per part (of the checks shown), and every comparison's worst element, its index,
    # values and threshold.
    assert parsed.table("parts")[1:] == [
        ["layers", "2 / 4", "1 / 2"],
        ["nets", "7.79 / 14", "1 / 3"],
        ["optim", "0 / 3", "0 / 2"],
    ]
    assert "worst at index (" in text and "values outside the tolerance" in text
    assert "Looks like: the mask is taken from dout instead of x" in text
    assert "Likely root cause: relu_backward dx failed too" in text
    # The module that does not import: where, and the student's line as inert text.
    assert "cs231n/optim.py, line 3" in text and "&lt;b&gt;" in html.student_report(result)
    assert "raised ValueError" in text
    # The notebooks and the inline answers awaiting manual grading.
    assert "FullyConnectedNets.ipynb" in text and "3, 7" in text
    assert "could not be read: not JSON" in text
    assert "1 inline answer(s): 2 points reserved (2 each), not part of this score" in text
    assert "Inline Question 1" in text


def test_the_accuracy_formula_is_the_graders_worked_out_on_the_measured_number(
    result: SubmissionResult,
) -> None:
    for text in (html.student_report(result), html.instructor_report(result)):
        shown = page(text).text
        assert "validation accuracy, as graded:" in shown
        assert "X = 513 * 100 / 1000 = 51.3" in shown
        assert "min(max(floor(X - 32), 0), 28) / 28 = min(max(19, 0), 28) / 28 = 19/28" in shown
        assert "* 10 points = 95/14 (6.7857)" in shown


def test_the_formula_is_found_in_what_the_accuracy_stage_writes(tmp_path: Path) -> None:
    """The report reads the grader's own line; a change of its wording must break this test."""
    from grader.accuracy import data
    from grader.accuracy.check import grade_rules
    from grader.checks.oracle import LiveOracle
    from grader.spec import FinalAccuracy
    from reference.data import write_synthetic_cifar10
    from tests.grader.accuracy.conftest import random_net, save_model

    cifar = write_synthetic_cifar10(tmp_path / "cifar", images_per_batch=300, num_test=400)
    save_model(tmp_path / "best_model.npz", random_net())
    rule = FinalAccuracy(lower=32, upper=60, points=10, part="p")
    acc = grade_rules([rule], tmp_path, data.load(cifar), oracle=LiveOracle(), open_course=Path)
    (outcome,) = acc.outcomes
    steps = html.formula_steps(outcome.message)
    assert steps[0] == "validation accuracy"
    assert steps[1].startswith("X = ") and steps[-1].startswith("* 10 points = ")
    assert html.formula_steps(accuracy_message()) != ()
    assert html.formula_steps("validation accuracy 51.3%") == ()


def test_the_instructor_report_shows_everything(result: SubmissionResult) -> None:
    raw = html.instructor_report(result)
    text = page(raw).text
    for secret in SECRETS:
        assert secret in text, secret
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "Raised: ValueError (cs231n/layers.py, line 12)" in text
    assert "A student sees instead: returned a value that is not an array" in text
    assert "51.30%" in text and "49.80%" in text and "55.00%" in text  # val, test, printed
    assert "validation accuracy is 7.00 percentage points above test accuracy" in text
    assert "stand_ins" in text and "grading time" in text
    assert page(raw).count("img") == 6  # the hidden and the after-due-date check's plots too
    assert 'href="FullyConnectedNets.executed.html"' in raw


def test_a_page_embeds_only_the_plots_module_urls(
    result: SubmissionResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a plot is checked before it enters a page: a template embeds nothing else."""
    monkeypatch.setattr(plots, "error_plot", lambda sample: "javascript:alert(1)")
    with pytest.raises(ValueError, match="not a PNG data URL"):
        html.student_report(result)


def shown(name: str) -> str:
    """A name as a page shows it: as found, control characters as escapes."""
    return sanitize.printed(readable(name))


def other(name: str, **changes: object) -> SubmissionResult:
    return replace(submission(), name=name, **changes)  # type: ignore[arg-type]


def test_the_class_index_links_every_submission_and_counts_the_mistakes(
    result: SubmissionResult,
) -> None:
    results = [
        result,
        other("Müller, Anna"),
        other("second", folder="second one"),
        other("broken", checks=(), error="broken zip: <b>bad</b>", extra={}),
    ]
    raw = html.class_index(results)
    parsed = page(raw)
    hrefs = parsed.hrefs()
    for r in results:
        folder = quote(r.folder or slug(r.name), safe="")
        assert f"{folder}/report.html" in hrefs and f"{folder}/report-instructor.html" in hrefs
    assert "second%20one/report.html" in hrefs
    assert "4 submissions" in parsed.text
    submissions = parsed.table("submissions")
    assert [row[0] for row in submissions[1:]] == [shown(r.name) for r in results]
    checks = {row[1]: row for row in parsed.table("checks")[1:]}
    # part, check, visibility, passed, failed, error, timeout, pass rate
    assert checks["relu_backward dx"][3:] == ["0", "3", "0", "0", "0%"]
    assert checks["affine_forward output"][3:] == ["3", "0", "0", "0", "100%"]
    mistakes = parsed.table("diagnoses")
    assert ["relu_backward dx", "the mask is taken from dout instead of x", "3"] in mistakes
    assert "broken zip: <b>bad</b>" in parsed.section_text("errored")
    assert parsed.count("img") == 2  # the scores and the accuracies


def test_the_class_index_draws_accuracies_only_when_some_were_measured(
    result: SubmissionResult,
) -> None:
    without = {k: v for k, v in result.extra.items() if k != "accuracy"}
    parsed = page(html.class_index([replace(result, extra=without)]))
    assert parsed.count("img") == 1 and "Measured validation accuracy" not in parsed.text
    assert page(html.class_index([])).text.count("0 submissions") == 1


def test_each_page_allows_only_its_own_inline_style_and_script(result: SubmissionResult) -> None:
    """The Content Security Policy names the exact style and script the page holds (so a browser
    applies them), and nothing else can load or run."""
    for text, script in (
        (html.student_report(result), False),
        (html.instructor_report(result), False),
        (html.class_index([result]), True),
    ):
        parsed = page(text)
        policy = parsed.policy()
        assert policy["default-src"] == ["'none'"] and policy["img-src"] == ["data:"]
        assert policy["style-src"] == [sha256(s) for s in parsed.styles]
        assert policy["script-src"] == ([sha256(s) for s in parsed.scripts] or ["'none'"])
        assert bool(parsed.scripts) is script


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_only_an_accuracy_outcome_is_read_as_a_grade(result: SubmissionResult) -> None:
    """A message that ends like a grade (a student's exception can say anything) but carries no
    credit of its own is shown as the message it is, not as the accuracy grade."""
    forged = check(
        "forged", "nets", "error", 0, 1, message="raised:\ngrade on the validation split: X = 99"
    )
    text = page(html.student_report(replace(result, checks=(*result.checks, forged)))).text
    assert text.count("as graded:") == 1 and "X = 99" in text
