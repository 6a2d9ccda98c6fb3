"""Same submission, same results: graded twice, and under both sandbox modes.

Each test grades for itself what it compares, except the plain-process side of the bwrap/process
comparison: that is an unmodified bundled example, graded once per session (``bundled_results``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import api
from grader.sandbox import available_modes
from tests.bundled import BundledResults, strip_timing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "cs231n-2021"


def graded(path: Path, out: Path, sandbox: str) -> dict:
    (result,) = api.grade([path], out=out, assignment="cs231n-2021", sandbox=sandbox)
    return json.loads((out / result.name / "results.json").read_text())


BWRAP = pytest.param(
    "bwrap",
    marks=[
        pytest.mark.sandbox,
        pytest.mark.skipif(
            available_modes()["bwrap"] is not None,
            reason=f"bwrap unusable: {available_modes()['bwrap']}",
        ),
    ],
)


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="bundled examples missing")
@pytest.mark.parametrize("sandbox", ["process", BWRAP])
@pytest.mark.parametrize("name", ["correct", "bug-dropout-no-scale", "bug-batchnorm-unbiased-var"])
def test_grading_twice_gives_identical_results(tmp_path: Path, name: str, sandbox: str) -> None:
    first = graded(EXAMPLES / name, tmp_path / "a", sandbox)
    second = graded(EXAMPLES / name, tmp_path / "b", sandbox)
    assert first["extra_data"]["isolation"] == sandbox
    assert strip_timing(first) == strip_timing(second)


@pytest.mark.sandbox
@pytest.mark.skipif(
    available_modes()["bwrap"] is not None, reason=f"bwrap unusable: {available_modes()['bwrap']}"
)
@pytest.mark.parametrize("name", ["correct", "bug-softmax-no-mean"])
def test_bwrap_and_process_give_the_same_scores(
    tmp_path: Path, name: str, bundled_results: BundledResults
) -> None:
    isolated = graded(EXAMPLES / name, tmp_path / "a", "bwrap")
    plain = bundled_results[f"cs231n-2021/{name}"]
    assert (
        isolated["extra_data"]["isolation"] == "bwrap"
        and plain["extra_data"]["isolation"] == "process"
    )
    assert [(t["name"], t["score"]) for t in isolated["tests"]] == [
        (t["name"], t["score"]) for t in plain["tests"]
    ]
    assert isolated["score"] == plain["score"]


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="bundled examples missing")
def test_instructor_log_keeps_what_hidden_checks_printed(tmp_path: Path) -> None:
    sub = tmp_path / "noisy"
    import shutil

    shutil.copytree(EXAMPLES / "correct", sub)
    optim = sub / "cs231n" / "optim.py"
    optim.write_text(
        optim.read_text() + "\n_adam = adam\n\ndef adam(w, dw, config=None):\n"
        "    print('ADAM-SEES', w.shape)\n    return _adam(w, dw, config)\n"
    )
    doc = graded(sub, tmp_path / "out", "process")
    hidden = [t for t in doc["tests"] if t["visibility"] == "hidden"]
    assert hidden and all("ADAM-SEES" not in t["output"] for t in hidden)
    assert "ADAM-SEES" in (tmp_path / "out" / "noisy" / "output.txt").read_text()
