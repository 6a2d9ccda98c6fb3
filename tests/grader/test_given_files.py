"""Course files that are given and not graded are always the grader's, and a failure in one is
never the student's (issue 11 §2).

Staging replaces them (trusted copies of the given modules, stand-ins for the rest) whether or
not the submission has them; a graded module's stand-in (the starter's ``layer_utils``) only
fills in for a missing file. An import that fails inside a given file is worded as that file's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.checks.imports import blocked_message, describe, module_problem
from grader.errors import StudentRaised
from grader.spec import Spec
from grader.spec.registry import get_spec
from grader.workspace.stage import stage

ROOT = Path(__file__).resolve().parents[2]
CORRECT_2017 = ROOT / "examples" / "cs231n-2017" / "correct"
PYTHON2 = "import numpy as np\nprint 'run python setup.py build_ext --inplace'\n"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return get_spec("cs231n-2017")


def submission(tmp: Path, **files: str) -> Path:
    """The bundled 2017 example with ``files`` (name -> text) added to its ``cs231n/``."""
    sub = tmp / "sub"
    shutil.copytree(CORRECT_2017, sub)
    for name, text in files.items():
        (sub / "cs231n" / f"{name}.py").write_text(text)
    return sub


def test_the_submissions_given_files_are_replaced_and_said_to_be(
    spec: Spec, tmp_path: Path
) -> None:
    sub = submission(tmp_path, fast_layers=PYTHON2, vis_utils=PYTHON2, setup=PYTHON2)
    staged = stage(sub, spec, tmp_path / "work")
    ws = staged.workspace
    for name in ("fast_layers", "vis_utils", "setup"):
        text = (ws / "cs231n" / f"{name}.py").read_text()
        assert "print 'run" not in text and "Stand-in" in text
        compile(text, name, "exec")  # imports under Python 3
    assert staged.stand_ins["cs231n/fast_layers.py"] == "empty"
    assert staged.stand_ins["cs231n/vis_utils.py"] == "empty"
    # The example's own solver.py is replaced by the trusted copy; im2col.py it lacks.
    assert staged.replaced == (
        "cs231n/fast_layers.py",
        "cs231n/setup.py",
        "cs231n/solver.py",
        "cs231n/vis_utils.py",
    )
    assert "cs231n/im2col.py" in staged.given and "cs231n/im2col.py" not in staged.replaced
    assert not set(staged.given) & set(spec.student_modules.values())


def test_a_graded_modules_stand_in_fills_in_only_for_a_missing_file(
    spec: Spec, tmp_path: Path
) -> None:
    sub = submission(tmp_path)
    own = (sub / "cs231n" / "layer_utils.py").read_text()
    staged = stage(sub, spec, tmp_path / "work")
    assert (staged.workspace / "cs231n" / "layer_utils.py").read_text() == own
    assert "cs231n/layer_utils.py" not in staged.stand_ins and staged.missing == ()

    (sub / "cs231n" / "layer_utils.py").unlink()
    (sub / "cs231n" / "optim.py").unlink()
    again = stage(sub, spec, tmp_path / "again")
    assert again.stand_ins["cs231n/layer_utils.py"] == "layer_utils"
    assert set(again.not_found) == {"layer_utils", "optim"}
    assert again.missing == ("optim",)  # derived: not found and not stood in


def test_an_empty_stand_in_answers_any_name_it_is_asked_for(spec: Spec, tmp_path: Path) -> None:
    """``from .fast_layers import conv_forward_fast`` imports; calling it says why it fails."""
    staged = stage(submission(tmp_path, fast_layers=PYTHON2), spec, tmp_path / "work")
    namespace: dict[str, object] = {"__name__": "cs231n.fast_layers"}
    exec((staged.workspace / "cs231n" / "fast_layers.py").read_text(), namespace)  # noqa: S102
    getter = namespace["__getattr__"]
    assert callable(getter)
    conv = getter("conv_forward_fast")
    not_run = namespace["GivenFileNotRun"]
    assert isinstance(not_run, type) and issubclass(not_run, RuntimeError)
    with pytest.raises(not_run, match="given course file"):
        conv(1, 2)
    with pytest.raises(AttributeError):
        getter("__path__")


def traceback(*frames: tuple[Path, int]) -> str:
    body = "".join(f'  File "{p}", line {n}, in <module>\n    x\n' for p, n in frames)
    return "Traceback (most recent call last):\n" + body + "ValueError: boom\n"


def test_an_import_failing_in_a_given_file_is_the_course_files(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "cs231n" / "classifiers").mkdir(parents=True)
    fc_net = ws / "cs231n" / "classifiers" / "fc_net.py"
    fc_net.write_text("from ..layer_utils import *\n")
    given = ws / "cs231n" / "gradient_check.py"
    given.write_text("import numpy as np\nraise ValueError('boom')\n")
    exc = StudentRaised(
        {"type": "ValueError", "message": "boom", "traceback": traceback((fc_net, 1), (given, 2))}
    )
    problem = module_problem(
        "cs231n/classifiers/fc_net.py",
        exc,
        ws,
        given={"cs231n/gradient_check.py"},
        trusted_text=True,
    )
    assert problem is not None and problem.given
    assert (problem.file, problem.line, problem.code) == (
        "cs231n/gradient_check.py",
        2,
        "raise ValueError('boom')",
    )
    assert "given course file `cs231n/gradient_check.py`" in blocked_message(problem)
    said = describe(problem)
    assert "not your mistake" in said and "ValueError: boom" in said
    # The same failure in a file the student wrote is the student's.
    own = module_problem("cs231n/classifiers/fc_net.py", exc, ws, given=(), trusted_text=True)
    assert own is not None and not own.given
    assert (
        blocked_message(own)
        == "blocked: `cs231n/classifiers/fc_net.py` does not import (see above)"
    )
