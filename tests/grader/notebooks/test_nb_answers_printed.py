"""Inline answers and printed numbers, read from notebooks rebuilt from the seeds, under the
bundled specs' ``[notebooks]`` settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.errors import SpecError
from grader.notebooks.answers import Answer, inline_answers
from grader.notebooks.printed import printed_numbers, printed_val_accuracy
from grader.notebooks.read import Notebook, read_notebook
from grader.notebooks.report import NotebookReport
from grader.spec import parse_spec
from grader.spec.notebooks import NotebookSpec
from grader.spec.registry import get_spec
from tests.grader.notebooks import seeds


def cells(nb: Any, tmp_path: Path, name: str = "Dropout.ipynb") -> Notebook:
    got = read_notebook(seeds.write(nb, tmp_path / name), name, 2**20)
    assert isinstance(got, Notebook)
    return got


def test_cs231n_inline_answers_are_found_in_and_after_the_answer_cell(tmp_path: Path) -> None:
    spec = get_spec("cs231n-2021").notebooks
    answers = inline_answers(cells(seeds.cs231n_dropout(), tmp_path).cells, spec)
    assert answers == (
        Answer(f"Inline Question 1:\n\n{seeds.Q1}", seeds.A1),
        Answer(f"Inline Question 2:\n\n{seeds.Q2}", seeds.A2),  # the cell after "## Answer:"
    )


def test_the_starters_placeholder_is_an_empty_answer(tmp_path: Path) -> None:
    spec = get_spec("cs231n-2021").notebooks
    nb = cells(seeds.cs231n_dropout(answer2="[FILL THIS IN]"), tmp_path)
    assert [a.text for a in inline_answers(nb.cells, spec)] == [seeds.A1, ""]


def test_the_assignment_1_latex_marker_and_emphasised_headings(tmp_path: Path) -> None:
    """CS231n's ``$\\color{blue}{\\textit Your Answer:}$`` answer lines (knn.ipynb-style)."""
    nb = seeds.notebook(
        seeds.md(
            "**Inline Question 1**\n\nWhich is true?\n\n"
            "$\\color{blue}{\\textit Your Answer:}$ *fill this in.*\n"
        ),
        seeds.md("**Inline Question 2**\n\n$\\color{blue}{\\textit Your Answer:}$ Rows 1 and 3.\n"),
    )
    assert inline_answers(cells(nb, tmp_path).cells, NotebookSpec()) == (
        Answer("Inline Question 1\n\nWhich is true?", ""),
        Answer("Inline Question 2", "Rows 1 and 3."),
    )


def test_ucla_questions_answered_in_their_own_cell_or_the_same_one(tmp_path: Path) -> None:
    spec = get_spec("ucla-c147-2022").notebooks
    (c147,) = inline_answers(cells(seeds.ucla_dropout(), tmp_path).cells, spec)
    assert c147.question.startswith("Question\n\nBased off the results of this experiment")
    assert c147.text.startswith("By examining the plots of the accuracy")
    (u18,) = inline_answers(cells(seeds.ucla_239as_bn(), tmp_path, "bn.ipynb").cells, spec)
    assert u18.question.startswith("Question:\n\nIn the cell below, summarize the findings")
    assert (
        u18.text
        == "Batch Normalization tries to avert a lot of issues related to bad initialization."
    )


def test_dasecv_questions_in_chinese(tmp_path: Path) -> None:
    spec = get_spec("dasecv-2021").notebooks
    (answer,) = inline_answers(cells(seeds.dasecv_dropout(), tmp_path).cells, spec)
    assert answer.question.startswith("3.1 问题 1:\n\n如果我们不利用 inverted dropout")
    assert answer.text.startswith("除了 Mean of train-time output")


def test_a_sentence_that_mentions_a_question_is_not_one(tmp_path: Path) -> None:
    nb = seeds.notebook(seeds.md("See the Inline Question below. Your Answer: matters."))
    assert inline_answers(cells(nb, tmp_path).cells, NotebookSpec()) == ()


def test_cs182_lists_no_inline_answers(tmp_path: Path) -> None:
    """Its questions are answered in the written assignment (variants.md §6.4)."""
    nb = seeds.notebook(
        seeds.md(
            "### 3.4.1 Question:\n\nExplain what you see in this experiment. Write your answer "
            "on the written assignment."
        )
    )
    assert inline_answers(cells(nb, tmp_path).cells, get_spec("cs182-sp25").notebooks) == ()


def test_relative_errors_and_accuracies_are_parsed(tmp_path: Path) -> None:
    spec = get_spec("cs231n-2021").notebooks
    dropout = cells(seeds.cs231n_dropout(), tmp_path)
    printed = printed_numbers(dropout.cells, spec.printed, "dropout")
    assert printed["rel_error_dx"] == 5.44560814873387e-11
    assert printed["rel_error_W2"] == 4.76e-06  # the last print (dropout 0.75) counts
    assert "val_accuracy" not in printed  # its pattern applies to FullyConnectedNets only
    fc = cells(seeds.cs231n_fc(), tmp_path, "FullyConnectedNets.ipynb")
    assert printed_numbers(fc.cells, spec.printed, "fc") == {
        "test_accuracy": 0.533,
        "val_accuracy": 0.544,
    }


def test_python2_prints_and_the_ucla_final_solver_line(tmp_path: Path) -> None:
    spec = get_spec("ucla-ece239as-2018").notebooks
    bn = cells(seeds.ucla_239as_bn(), tmp_path, "Batch-Normalization.ipynb")
    assert printed_numbers(bn.cells, spec.printed, "bn") == {"rel_error_dx": 1.2297161996232763e-08}
    dropout = cells(seeds.ucla_dropout(), tmp_path)
    assert printed_numbers(dropout.cells, spec.printed, "dropout")["val_accuracy"] == 0.537


def report(printed: dict[str, float]) -> NotebookReport:
    return NotebookReport("x.ipynb", None, True, (), (), printed)


def test_printed_val_accuracy_is_a_fraction() -> None:
    assert printed_val_accuracy([report({}), report({"val_accuracy": 0.544})]) == 0.544
    assert printed_val_accuracy([report({"val_accuracy": 54.4})]) == pytest.approx(0.544)
    assert printed_val_accuracy([report({"val_accuracy": 544.0})]) is None
    assert printed_val_accuracy([]) is None


def spec_with(notebooks: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": "t",
        "title": "t",
        "layout": {"student": {"layers": "cs231n/layers.py"}},
        "parts": [{"id": "dropout", "title": "Dropout.ipynb"}],
        "checks": [],
        "notebooks": notebooks,
    }


def test_the_notebooks_section_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    spec = parse_spec(spec_with({"parts": {"Dropout-2.ipynb": "dropout"}}), path)
    assert spec.notebooks.parts == {"Dropout.ipynb": "dropout", "Dropout-2.ipynb": "dropout"}
    bad = {
        "no number": {"printed": {"val_accuracy": "Validation: ([0-9.]+)"}},
        "name group": {"printed": {"rel_error_{name}": "error: {number}"}},
        "bad regex": {"printed": {"x": "(unclosed {number}"}},
        "unknown part": {"printed": {"x": {"pattern": "{number}", "parts": ["fc"]}}},
        "part map": {"parts": {"Dropout.ipynb": "fc"}},
        "unknown key": {"answer_marks": ["Answer:"]},
        "negative": {"answer_points": -1},
        "logs": {"logs": {"curves": [{"files": "*.npz", "epochs": 0, "iterations": 1}]}},
    }
    for case, section in bad.items():
        with pytest.raises(SpecError) as err:
            parse_spec(spec_with(section), path)
        assert "notebooks" in str(err.value), case
