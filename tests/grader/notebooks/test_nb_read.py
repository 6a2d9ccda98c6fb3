"""Reading one notebook: what was run, which cells failed, and every way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from grader.notebooks.facts import error_cells, executed, part_of, unrun_cells
from grader.notebooks.read import Notebook, NotebookProblem, read_notebook
from tests.grader.notebooks import seeds

LIMIT = 2**20


def read(path: Path, limit: int = LIMIT) -> Notebook | NotebookProblem:
    return read_notebook(path, path.name, limit)


def readable(path: Path) -> Notebook:
    got = read(path)
    assert isinstance(got, Notebook), got
    return got


def test_an_executed_notebook_with_colab_cells_is_read(tmp_path: Path) -> None:
    nb = readable(seeds.write(seeds.cs231n_dropout(), tmp_path / "Dropout.ipynb"))
    assert executed(nb.cells) and unrun_cells(nb.cells) == 0 and error_cells(nb.cells) == ()
    assert nb.notes == ()
    colab = nb.cells[0]  # the Drive mount cell with its shell and magic lines: only read
    assert colab.kind == "code" and "google.colab" in colab.source
    assert "Drive already mounted" in colab.output
    assert "dx relative error:  5.44560814873387e-11" in nb.cells[5].output


def test_a_notebook_saved_without_running_is_not_executed(tmp_path: Path) -> None:
    nb = readable(seeds.write(seeds.unrun(seeds.cs231n_dropout()), tmp_path / "Dropout.ipynb"))
    assert not executed(nb.cells) and unrun_cells(nb.cells) == 5
    assert all(c.output == "" for c in nb.cells)


def test_error_cells_are_listed_by_their_index(tmp_path: Path) -> None:
    nb = readable(seeds.write(seeds.with_error_cell(), tmp_path / "Dropout.ipynb"))
    assert error_cells(nb.cells) == (3,)
    assert "FileNotFoundError: [Errno 2]" in nb.cells[3].output


def test_invalid_json_is_a_problem_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "Dropout.ipynb"
    path.write_text(nbformat.writes(seeds.cs231n_dropout())[:500], encoding="utf-8")
    got = read(path)
    assert isinstance(got, NotebookProblem)
    assert got.message.startswith("Dropout.ipynb is not valid JSON (line ")


def test_json_that_is_not_a_notebook_and_other_versions_are_problems(tmp_path: Path) -> None:
    cases = {
        "list.ipynb": ("[1, 2]", "is JSON but not a notebook"),
        "v2.ipynb": ('{"nbformat": 2, "worksheets": []}', "nbformat 2, which is not supported"),
        "v5.ipynb": ('{"nbformat": 5, "cells": []}', "nbformat 5, which is not supported"),
        "latin1.ipynb": (b"\xff\xfe{", "is not UTF-8 text"),
    }
    for name, (content, said) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        got = read(path)
        assert isinstance(got, NotebookProblem) and said in got.message, (name, got)


def test_nbformat_3_is_upgraded_and_says_so(tmp_path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "input": ["print('dx relative error: ', rel_error(dx, dx_num))"],
            "language": "python",
            "metadata": {},
            "outputs": [
                {"output_type": "stream", "stream": "stdout", "text": ["dx error: 5.4e-11\n"]}
            ],
            "prompt_number": 7,
            "collapsed": False,
        },
        {"cell_type": "markdown", "metadata": {}, "source": ["## Inline Question 1:"]},
    ]
    path = tmp_path / "Dropout.ipynb"
    path.write_text(seeds.v3(cells), encoding="utf-8")
    nb = readable(path)
    assert [c.kind for c in nb.cells] == ["code", "markdown"]
    assert executed(nb.cells) and nb.cells[0].output == "dx error: 5.4e-11\n"
    assert nb.notes == ("Dropout.ipynb is nbformat 3; it was upgraded to nbformat 4 to be read",)


def test_missing_cell_ids_are_added_and_reported_without_a_warning(tmp_path: Path) -> None:
    """nbformat 4.5 requires ids; nbformat itself would warn (MissingIDFieldWarning, an error
    under this suite's filterwarnings) and add random ones."""
    raw = json.loads(nbformat.writes(seeds.cs231n_dropout()))
    assert raw["nbformat_minor"] >= 5
    for cell in raw["cells"][:3]:
        del cell["id"]
    raw["cells"][4]["id"] = raw["cells"][5]["id"]  # a repeated id is repaired too
    path = tmp_path / "Dropout.ipynb"
    path.write_text(json.dumps(raw), encoding="utf-8")
    nb = readable(path)
    assert len(nb.cells) == len(raw["cells"]) and executed(nb.cells)
    assert nb.notes == (
        "Dropout.ipynb: 4 cell(s) had no id or a repeated one (nbformat 4.5 requires unique "
        "ids); ids were added to read it",
    )


def test_a_notebook_that_does_not_validate_is_read_as_it_is(tmp_path: Path) -> None:
    raw = json.loads(nbformat.writes(seeds.cs231n_dropout()))
    del raw["cells"][5]["outputs"][0]["name"]  # a stream must say which one
    path = tmp_path / "Dropout.ipynb"
    path.write_text(json.dumps(raw), encoding="utf-8")
    nb = readable(path)
    assert "5.44560814873387e-11" in nb.cells[5].output
    assert len(nb.notes) == 1 and "does not validate as nbformat 4" in nb.notes[0]


def test_a_notebook_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = seeds.write(seeds.cs231n_dropout(), tmp_path / "Dropout.ipynb")
    got = read(path, limit=1024)
    assert got == NotebookProblem(
        "Dropout.ipynb",
        "Dropout.ipynb is larger than 0.000976562 MiB, the notebook limit; not read",
    )


def test_a_symlinked_notebook_is_never_followed(tmp_path: Path) -> None:
    target = seeds.write(seeds.cs231n_dropout(), tmp_path / "real.ipynb")
    link = tmp_path / "Dropout.ipynb"
    link.symlink_to(target)
    got = read(link)
    assert isinstance(got, NotebookProblem) and "could not be read" in got.message


def test_the_part_is_matched_by_file_name() -> None:
    parts = {"Dropout.ipynb": "dropout", "BatchNormalization.ipynb": "bn"}
    assert part_of("assignment2/Dropout.ipynb", parts) == "dropout"
    assert part_of("dropout.IPYNB", parts) == "dropout"
    assert part_of("ConvolutionalNetworks.ipynb", parts) is None
