"""Course files graded code imports are stood in (spec ``layout.stand_ins``).

CS231n 2021-2024's collectSubmission.sh does not collect ``layer_utils.py``, and the starters'
``layer_utils`` imports ``fast_layers``, which imports ``im2col``: a correct submission without
them must still score full marks. Given files that are not graded are the grader's even when
the submission has them: the 2016 starter's ``fast_layers.py`` is Python 2 and the 2019 one
imports torch (variants.md §11 items 4 and 6), and neither may cost the student a point.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def grade(sub: Path, course: str, tmp: Path) -> SubmissionResult:
    (submission,) = intake.collect([sub], tmp / "intake", lms=False)
    return api.grade_submission(
        submission,
        spec=api.get_spec(course),
        workdir=tmp / "work",
        sandbox="process",
        limits={"check_seconds": 30.0},
    )


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022", "cs182-sp25"])
def test_a_submission_without_layer_utils_gets_the_starters(course: str, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "examples" / course / "correct", sub)
    spec = api.get_spec(course)
    (sub / spec.student_modules["layer_utils"]).unlink()
    fc_net = sub / spec.student_modules["fc_net"]
    # Use only the starter's composites, as a net written against the starter's layer_utils does.
    text = fc_net.read_text()
    result = grade(sub, course, tmp_path)
    if "affine_norm_relu_forward" in text:  # the example's own helper is gone with its layer_utils
        failed = {c.check_id for c in result.checks if c.status != "passed"}
        assert failed and all(
            "affine_norm_relu_forward" in c.message or c.root_cause
            for c in result.checks
            if c.status != "passed"
        )
    else:
        assert result.score == result.max_score, [
            (c.check_id, c.message) for c in result.checks if c.status != "passed"
        ]
    assert any("layer_utils.py was not in the submission" in n for n in result.notes)


def test_a_layer_utils_importing_fast_layers_and_im2col_imports(tmp_path: Path) -> None:
    """The starter's layer_utils imports fast_layers; the 2019 fast_layers imports torch and
    im2col. The submission's copy is replaced, and the report says so."""
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "examples" / "dasecv-2021" / "correct", sub)
    utils = sub / "daseCV" / "layer_utils.py"
    utils.write_text("from daseCV.fast_layers import *\n" + utils.read_text())
    (sub / "daseCV" / "fast_layers.py").write_text(
        "import torch\nfrom daseCV.im2col import *\ntry:\n    from daseCV.im2col_cython import "
        "col2im_cython\n"
        "except ImportError:\n    print('run the following from the daseCV directory and try "
        "again:')\n"
    )
    result = grade(sub, "dasecv-2021", tmp_path)
    assert result.score == result.max_score, [
        (c.check_id, c.message) for c in result.checks if c.status != "passed"
    ]
    assert result.extra["stand_ins"] == {
        "daseCV/fast_layers.py": "empty",
        "daseCV/im2col.py": "empty",
    }
    assert "daseCV/fast_layers.py" in result.extra["replaced"]
    assert "daseCV/im2col.py" not in result.extra["replaced"]  # not in the submission: no news
    (note,) = (n for n in result.notes if "given" in n)
    assert "not graded" in note and "daseCV/fast_layers.py" in note


def test_a_python2_given_file_costs_no_point(tmp_path: Path) -> None:
    """The 2016 starter: ``fast_layers.py`` has print statements, and the student's layer_utils
    imports it (``fc_net`` imports layer_utils), as every 2016 package does."""
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "examples" / "cs231n-2017" / "correct", sub)
    package = sub / "cs231n"
    (package / "fast_layers.py").write_text(
        "import numpy as np\n"
        "try:\n  from cs231n.im2col_cython import col2im_cython, im2col_cython\n"
        "except ImportError:\n"
        "  print 'run the following from the cs231n directory and try again:'\n"
        "  print 'python setup.py build_ext --inplace'\n"
    )
    (package / "vis_utils.py").write_text("from math import sqrt, ceil\nprint 'vis'\n")
    utils = package / "layer_utils.py"
    utils.write_text(
        "from cs231n.fast_layers import *\nfrom cs231n.fast_layers import conv_forward_fast\n"
        + utils.read_text()
    )
    result = grade(sub, "cs231n-2017@2016", tmp_path)
    assert result.score == result.max_score, [
        (c.check_id, c.message) for c in result.checks if c.status != "passed"
    ]
    assert {"cs231n/fast_layers.py", "cs231n/vis_utils.py"} <= set(result.extra["replaced"])
    assert any("cs231n/fast_layers.py" in n and "not graded" in n for n in result.notes)
