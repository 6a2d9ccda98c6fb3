"""A module that does not import is reported once, where it fails; the checks it blocks point
there (issue 11 §7).

A syntax error in ``layers.py`` blocks every check that imports it (the layers', and the nets',
through ``fc_net``'s imports): the result holds exactly one module problem (file, line, the
offending line), said once in the notes, and each blocked check says only that it is blocked
and names no root cause, since none of its dependencies ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.report.gradescope import to_gradescope
from tests.grader.planting import COURSES, by_id, course_spec, grade, patch, skip_without

pytestmark = pytest.mark.slow

COURSE = "cs231n-2021"
BROKEN = "def relu_forward(x)"  # the colon left out


def test_a_syntax_error_is_reported_once_and_each_blocked_check_points_to_it(
    tmp_path: Path,
) -> None:
    skip_without(COURSE)
    spec = course_spec(COURSE)
    sub = patch(COURSES[COURSE], tmp_path / "sub", spec, "layers", ("def relu_forward(x):", BROKEN))
    layers = sub / spec.student_modules["layers"]
    line = layers.read_text().splitlines().index(BROKEN) + 1
    result = grade(sub, spec, tmp_path, only="layers")

    (problem,) = result.extra["module_problems"]
    assert problem == {
        "module": "cs231n/layers.py",
        "summary": "SyntaxError: expected ':'",
        "file": "cs231n/layers.py",
        "line": line,
        "code": BROKEN,
        "given": False,
    }
    said = [n for n in result.notes if "does not import" in n]
    assert said == [
        f"`cs231n/layers.py` does not import: SyntaxError: expected ':' in "
        f"`cs231n/layers.py`, line {line}: `{BROKEN}`"
    ]
    blocked = "blocked: `cs231n/layers.py` does not import (see above)"
    assert result.checks and all(c.message == blocked for c in result.checks)
    assert not any(c.root_cause for c in result.checks)
    assert by_id(result)["fc_loss"].status == "error"  # blocked through fc_net's import

    document = to_gradescope(result)
    assert document["output"].count("does not import:") == 1
    shown = [t["output"] for t in document["tests"] if t["visibility"] != "hidden"]
    assert shown and all(output.startswith(blocked) for output in shown)
    # A hidden check shows its status and points, never a message.
    assert all(t["output"] == "" for t in document["tests"] if t["visibility"] == "hidden")
