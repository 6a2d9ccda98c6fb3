"""``nngrader check --format``: each format on the bundled examples, as a CI script reads it."""

from __future__ import annotations

import ast
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from grader import api
from grader.cli import main
from grader.report import validate
from grader.report.github import escape_data
from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
BUGGY = ROOT / "examples" / "cs231n-2021" / "bug-relu-backward"
pytestmark = pytest.mark.skipif(
    not (CORRECT.is_dir() and BUGGY.is_dir()), reason="bundled examples missing"
)


def check(
    path: Path, fmt: str | None, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str]:
    """``nngrader check PATH [--format fmt]``: its exit code and what it printed."""
    options = ["--format", fmt] if fmt else []
    argv = ["check", str(path), "--assignment", "cs231n-2021", "--sandbox", "process"]
    code = main([*argv, *options, *more])
    return code, capsys.readouterr().out


def table_total(table: str) -> float:
    match = re.search(r"^Total: (\S+) / (\S+)$", table, re.M)
    assert match, table
    return float(match[1])


@pytest.fixture(autouse=True)
def _not_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step summary is appended only when a test sets it (these run in CI too)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def graded(monkeypatch: pytest.MonkeyPatch) -> list[SubmissionResult]:
    """The results ``nngrader check`` printed, as ``api.check`` returned them."""
    seen: list[SubmissionResult] = []
    real = api.check

    def keeping(*args: Any, **kw: Any) -> SubmissionResult:
        seen.append(real(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(api, "check", keeping)
    return seen


def test_the_default_is_todays_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, default = check(CORRECT, None, capsys)
    again, table = check(CORRECT, "table", capsys)
    assert code == again == 0
    assert default == table and table.startswith("correct: cs231n-2021")
    assert table_total(table) == 53


@pytest.mark.parametrize("path", [CORRECT, BUGGY], ids=["correct", "bug-relu-backward"])
def test_json_is_results_json_with_the_tables_score(
    path: Path, capsys: pytest.CaptureFixture[str], graded: list[SubmissionResult]
) -> None:
    code, out = check(path, "json", capsys)
    _, table = check(path, "table", capsys)
    doc = json.loads(out)
    validate.validate("results", doc)  # Gradescope's results.json form, ours in extra_data
    assert doc["score"] == table_total(table)
    assert code == (0 if path == CORRECT else 1)
    assert graded[0].notes and doc["extra_data"]["notes"] == list(graded[0].notes)
    failed = [t["extra_data"]["check_id"] for t in doc["tests"] if t["status"] == "failed"]
    assert ("relu_backward" in failed) is (path == BUGGY)


def test_junit_validates_against_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(BUGGY, "junit", capsys)
    schema = xmlschema.XMLSchema(str(files("grader.report").joinpath("schemas", "junit.xsd")))
    schema.validate(out)
    assert code == 1
    assert 'name="relu_backward dx"' in out and "<failure" in out


def _lines_of(path: Path, name: str) -> range:
    """The lines of the top-level function ``name`` in ``path`` (our own example's file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    assert node.end_lineno is not None
    return range(node.lineno, node.end_lineno + 1)


def test_github_annotates_the_students_function_and_appends_the_step_summary(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    graded: list[SubmissionResult],
) -> None:
    step = tmp_path / "step-summary.md"
    step.write_text("an earlier step's summary\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    code, out = check(BUGGY, "github", capsys)
    assert code == 1
    lines = out.splitlines()
    relu = [
        line for line in lines if line.startswith("::error ") and "title=relu_backward dx" in line
    ]
    assert len(relu) == 1
    found = re.match(r"::error file=([^,]+),line=(\d+),title=", relu[0])
    assert found, relu[0]
    assert found[1] == "cs231n/layers.py"  # relative to the checked folder: the repository's path
    assert int(found[2]) in _lines_of(BUGGY / "cs231n" / "layers.py", "relu_backward")
    notices = [line for line in lines if line.startswith("::notice::")]
    assert graded[0].notes and notices == [f"::notice::{escape_data(n)}" for n in graded[0].notes]
    assert lines[-1] == "nngrader: 38 / 53 points (cs231n-2021)"
    summary = step.read_text(encoding="utf-8")
    assert summary.startswith("an earlier step's summary\n## nngrader results: 1 submission")
    assert "relu\\_backward dx" in summary


def test_github_on_a_passing_submission_says_only_notes_and_the_score(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = check(CORRECT, "github", capsys)
    assert code == 0
    *notes, last = out.splitlines()
    assert notes and all(line.startswith("::notice::") for line in notes)
    assert last == "nngrader: 53 / 53 points (cs231n-2021)"


def test_github_with_summary_appends_the_step_summary_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    step, summary = tmp_path / "step.md", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert check(CORRECT, "github", capsys, "--summary", str(summary))[0] == 0
    assert step.read_text(encoding="utf-8") == summary.read_text(encoding="utf-8")


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["check", str(CORRECT), "--format", "xml"])
    assert stopped.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err
