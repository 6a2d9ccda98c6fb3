"""What a notebook's cells become before execution (``grader.notebooks.neutralize``)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from assignments import spec_dir
from grader.notebooks.neutralize import DEFAULT_RULES, Rule, apply_rules, prepare

COLAB = (
    "from google.colab import drive\n"
    "drive.mount('/content/drive')\n"
    "if True:\n"
    "    %cd /content/drive/My\\ Drive/$FOLDERNAME\n"
    "!bash get_datasets.sh\n"
    "%pip install numpy\n"
    "x = 1\n"
)


def test_colab_lines_become_pass_at_their_indentation() -> None:
    source, changed = apply_rules(COLAB, DEFAULT_RULES)
    lines = source.splitlines()
    assert lines[0] == "pass  # nngrader: Colab only: from google.colab import drive"
    assert lines[3].startswith("    pass  # nngrader: ")
    assert lines[4].startswith("pass  # nngrader: no shell commands")
    assert lines[5].startswith("pass  # nngrader: no package installs")
    assert lines[6] == "x = 1"
    compile(source, "<cell>", "exec")  # still Python, the `if` included
    assert len(changed) == 5


def test_magics_the_notebooks_need_are_kept() -> None:
    source = "%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n"
    assert apply_rules(source, DEFAULT_RULES) == (source, [])


def test_spec_rules_skip_and_shrink_cells() -> None:
    rules = (
        Rule(r"^\s*for lr in learning_rates:", "skip", why="heavy"),
        Rule(r"num_training=49000", "replace", "num_training=500", why="less data"),
    )
    assert apply_rules("for lr in learning_rates:\n    train(lr)\n", rules) == (
        "# nngrader: cell not run (heavy)\n",
        ["not run (heavy)"],
    )
    source, changed = apply_rules("data = get_CIFAR10_data(num_training=49000)\n", rules)
    assert source == "data = get_CIFAR10_data(num_training=500)\n"
    assert changed == ["replaced 1 line (less data)"]


def test_a_rule_is_checked_where_it_is_made() -> None:
    with pytest.raises(ValueError, match="action"):
        Rule("x", "delete")


def test_student_metadata_and_outputs_are_dropped_from_a_copy() -> None:
    cell = nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]})
    cell.outputs = [nbformat.v4.new_output("stream", text="old")]
    nb = nbformat.v4.new_notebook(
        cells=[cell], metadata={"kernelspec": {"name": "evil", "display_name": "x"}}
    )
    prepared, notes = prepare(nb)
    assert "tags" not in prepared.cells[0].metadata
    assert prepared.cells[0].outputs == []
    assert "kernelspec" not in prepared.metadata
    assert nb.cells[0].metadata["tags"] == ["raises-exception"]  # the original is untouched
    assert notes == []


def test_a_specs_rules_skip_heavy_cells_and_shrink_the_data(tmp_path: Path) -> None:
    """``[[notebooks.rules]]`` as the execution stage applies them, after the Colab rules."""
    from grader.spec import load_spec
    from grader.spec.notebooks import CellRule

    spec_text = (spec_dir() / "cs231n-2021.toml").read_text() + (
        "\n[[notebooks.rules]]\npattern = 'num_epochs=\\d+'\naction = 'replace'\n"
        "text = 'num_epochs=1'\nwhy = 'one epoch is enough to grade'\n"
        "\n[[notebooks.rules]]\npattern = '^# HEAVY'\naction = 'skip'\nwhy = 'too slow'\n"
    )
    (tmp_path / "spec.toml").write_text(spec_text)
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.notebooks.rules[1] == CellRule("^# HEAVY", "skip", "", "too slow")
    rules = (
        *DEFAULT_RULES,
        *(Rule(r.pattern, r.action, r.text, r.why) for r in spec.notebooks.rules),
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("solver = Solver(model, data, num_epochs=20)"),
            nbformat.v4.new_code_cell("# HEAVY: the search\nfor lr in lrs:\n    train(lr)"),
        ]
    )
    ready, notes = prepare(nb, rules)
    assert ready.cells[0].source == "solver = Solver(model, data, num_epochs=1)"
    assert "train(lr)" not in ready.cells[1].source
    assert len(notes) == 2


def test_a_spec_rule_must_be_a_regular_expression(tmp_path: Path) -> None:
    from grader.errors import SpecError
    from grader.spec import load_spec

    spec_text = (
        spec_dir() / "cs231n-2021.toml"
    ).read_text() + "\n[[notebooks.rules]]\npattern = '('\n"
    (tmp_path / "spec.toml").write_text(spec_text)
    with pytest.raises(SpecError, match="not a regular expression"):
        load_spec(tmp_path / "spec.toml")
