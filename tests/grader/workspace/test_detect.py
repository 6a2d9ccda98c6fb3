"""Detection: each homework's files pick its own spec and offering, or are refused with evidence.

Submissions of courses without a bundled example are built from the bundled ones
(``builders.py``); none is ever graded as the nearest course.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import api, intake
from grader.report.gradescope import to_gradescope
from grader.spec import Spec
from grader.workspace import signatures
from grader.workspace.detect import Detection, detect
from tests.grader.planting import COURSES
from tests.grader.workspace import builders


def specs() -> list[Spec]:
    return list(api.available_specs().values())


def detected(root: Path) -> Detection:
    return detect(root, specs())


# -- reading signatures without importing ---------------------------------------------------------


def test_signatures_are_read_from_source() -> None:
    facts = signatures.read_source(
        "from .layers import *\n"
        "def affine_forward(x, w, b):\n    '''We keep each unit.'''\n"
        "class Net(Base):\n    def __init__(self, dims, *, reg=0.0, **kw): pass\n"
        "try:\n    def adam(w, dw, config=None): pass\nexcept ImportError:\n    pass\n"
    )
    affine = facts.names["affine_forward"]
    assert affine.params is not None and affine.params.accepts(3)
    assert not affine.params.accepts(4) and not affine.params.accepts(2)
    assert affine.doc == "We keep each unit."
    net = facts.names["Net"]
    assert net.inherits and net.params is not None
    assert net.params.accepts(1, frozenset({"reg", "anything"}))  # **kw
    assert facts.names["adam"].params is not None  # defined inside a top-level try
    assert facts.lookup("never_written") is not None  # a star import may define it


def test_a_source_that_does_not_parse_still_names_its_functions() -> None:
    facts = signatures.read_source("def relu_forward(x):\n    print x\n\nclass TwoLayerNet:\n")
    assert not facts.parsed and set(facts.names) == {"relu_forward", "TwoLayerNet"}
    assert facts.lookup("batchnorm_forward") is None


# -- homeworks told apart ------------------------------------------------------------------------


def test_hw3_folder_is_hw3_and_hw4_folder_is_hw4(tmp_path: Path) -> None:
    """HW3's nndl/ would otherwise be graded as HW4 and lose the BN/dropout/optimizer points."""
    hw3 = detected(builders.c147_hw3(tmp_path / "hw3"))
    assert hw3.spec is not None and hw3.spec.id == "ucla-c147-hw3", hw3.evidence
    hw4 = detected(COURSES["ucla-c147-2022"])
    assert hw4.spec is not None and hw4.spec.id == "ucla-c147-2022", hw4.evidence


def test_hw3_folder_without_notebooks_still_refutes_hw4(tmp_path: Path) -> None:
    root = builders.c147_hw3(tmp_path / "hw3")
    (root / "FC_nets.ipynb").unlink()
    found = detected(root)
    assert found.spec is not None and found.spec.id == "ucla-c147-hw3", found.evidence


def test_a1_2025_folder_is_a1_and_a2_folder_is_a2(tmp_path: Path) -> None:
    a1 = detected(builders.cs231n_2025_a1(tmp_path / "a1"))
    assert a1.spec is not None and a1.spec.id == "cs231n-2025-a1", a1.evidence
    assert "class TwoLayerNet" in a1.evidence
    a2 = detected(COURSES["cs231n-2021"])
    assert a2.spec is not None and a2.spec.id == "cs231n-2021", a2.evidence


def test_cs182_spring_2022_is_not_graded_as_spring_2025(tmp_path: Path) -> None:
    sp22 = detected(builders.cs182_sp22(tmp_path / "sp22"))
    assert sp22.spec is not None and sp22.spec.id == "cs182-sp22", sp22.evidence
    sp25 = detected(COURSES["cs182-sp25"])
    assert sp25.spec is not None and sp25.spec.id == "cs182-sp25", sp25.evidence


def test_a_layout_no_spec_fits_is_refused_with_the_evidence(tmp_path: Path) -> None:
    """CS182 fall 2025 hw02-style: deeplearning/ with optimizers and nets but no BN/dropout."""
    root = tmp_path / "hw02"
    shutil.copytree(COURSES["cs182-sp25"], root)
    builders.drop_defs(
        root / "deeplearning" / "layers.py",
        "batchnorm_forward",
        "batchnorm_backward",
        "dropout_forward",
        "dropout_backward",
    )
    found = detected(root)
    assert found.spec is None
    assert "no course spec fits" in found.evidence
    assert "cs182-sp25: layers.py has no batchnorm_forward" in found.evidence


def test_a_net_whose_signature_does_not_fit_refutes_the_course(tmp_path: Path) -> None:
    """The 2021 net without its dropout_keep_ratio argument is not that course's net."""
    root = tmp_path / "s"
    shutil.copytree(COURSES["cs231n-2021"], root)
    builders.edit(
        root / "cs231n" / "classifiers" / "fc_net.py",
        ("dropout_keep_ratio=1,", "keep=1,"),
        ("dropout_keep_ratio != 1", "keep != 1"),
        ('"p": dropout_keep_ratio', '"p": keep'),
    )
    found = detected(root)
    assert found.spec is None
    assert "FullyConnectedNet" in found.evidence and "no dropout_keep_ratio" in found.evidence


# -- offerings read from the starter's text ------------------------------------------------------


def test_c147_2023_starter_is_graded_with_keep(tmp_path: Path) -> None:
    found = detected(builders.c147_2023(tmp_path / "w23"))
    assert found.spec is not None and found.spec.id == "ucla-c147-2022"
    assert found.spec.api.dropout_p == "keep" and not found.notes
    assert "detected ucla-c147-2022@2023" in found.evidence
    assert "'use_dropout = dropout < 1'" in found.evidence


def test_c147_2024_starter_accepts_both_readings(tmp_path: Path) -> None:
    found = detected(builders.c147_2024(tmp_path / "w24", keep_layer=True))
    assert found.spec is not None and "ucla-c147-2022@2024" in found.evidence
    assert found.spec.api.dropout_p == "drop" and found.spec.api.flip_policy == "credit"


def test_undecided_offering_is_graded_under_the_default_with_a_note(tmp_path: Path) -> None:
    """The bundled example states only the net's drop reading: 2022 or 2024, not decided."""
    found = detected(COURSES["ucla-c147-2022"])
    assert found.spec is not None and found.spec.api == api.get_spec("ucla-c147-2022").api
    (note,) = found.notes
    assert "'use_dropout = dropout > 0'" in note and "--assignment ucla-c147-2022@2023" in note


def test_contradicting_signs_fall_back_to_the_default(tmp_path: Path) -> None:
    root = builders.c147_2023(tmp_path / "w")
    builders.edit(
        root / "nndl" / "layers.py",
        ("We keep each neuron output", "We drop each neuron output"),
    )
    found = detected(root)
    assert found.spec is not None and found.spec.api.dropout_p == "drop"
    assert found.notes and "contradict" in found.notes[0]


# -- a refused submission still gets a results.json ----------------------------------------------


def test_refused_submission_reports_the_evidence(tmp_path: Path) -> None:
    root = tmp_path / "hw02"
    shutil.copytree(COURSES["cs182-sp25"], root)
    builders.drop_defs(root / "deeplearning" / "layers.py", "batchnorm_forward", "dropout_forward")
    (sub,) = intake.collect([root], tmp_path / "intake", lms=False)
    result = api.grade_submission(sub, workdir=tmp_path / "work", sandbox="process")
    doc = to_gradescope(result)
    assert doc["score"] == 0 and doc["tests"] == []
    assert "no course spec fits" in doc["extra_data"]["error"]
    assert "batchnorm_forward" in doc["extra_data"]["error"]


@pytest.mark.parametrize("course", sorted(COURSES))
def test_every_bundled_example_is_still_its_own_course(course: str) -> None:
    found = detected(COURSES[course])
    assert found.spec is not None and found.spec.id == course, found.evidence
