"""Net checks with dropout: injected masks, the net's ``p``, and the fallback for inlined dropout.

When a net does not call a ``dropout_forward`` the harness can replace, the grader cannot inject
masks; it must still fail a net that applies no dropout or a wrong one, and pass correct ones
whatever their mask convention.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import CheckResult

ROOT = Path(__file__).resolve().parents[3]
DROPOUT_NET_CHECKS = ("fc_dropout_loss", "fc_dropout_batchnorm_hidden")
CALL = "h, drop_cache = dropout_forward(h, self.dropout_param)"

pytestmark = pytest.mark.slow

OWN_DROPOUT = '''

import numpy as np


def _own_dropout(x, dropout_param):
    """Inlined dropout under another name: the grader cannot replace it. {convention}"""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode != "train":
        return x, (dropout_param, None)
    keep = {keep}
    mask = ({mask}) / {scale}
    return x * mask, (dropout_param, mask)
'''
CONVENTIONS = {  # name -> (mask expression, scale), with keep the keep probability
    "U < keep": ("np.random.rand(*x.shape) < keep", "keep"),
    "U >= 1 - keep": ("np.random.rand(*x.shape) >= 1 - keep", "keep"),
    "binomial": ("np.random.binomial(1, keep, size=x.shape)", "keep"),
}


def grade(sub: Path, course: str, tmp: Path) -> dict[str, CheckResult]:
    (submission,) = intake.collect([sub], tmp / "intake", lms=False)
    result = api.grade_submission(
        submission,
        spec=api.get_spec(course),
        workdir=tmp / "work",
        sandbox="process",
        limits={"check_seconds": 30.0},
    )
    return {c.check_id: c for c in result.checks}


def net_with_own_dropout(tmp: Path, course: str, mask: str, scale: str, keep: str = "p") -> Path:
    sub = tmp / "sub"
    shutil.copytree(ROOT / "examples" / course / "correct", sub)
    fc_net = sub / api.get_spec(course).student_modules["fc_net"]
    text = fc_net.read_text()
    assert CALL in text
    code = OWN_DROPOUT.format(convention="", keep=keep, mask=mask, scale=scale)
    fc_net.write_text(text.replace(CALL, CALL.replace("dropout_forward(", "_own_dropout(")) + code)
    return sub


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_inlined_dropout_of_any_convention_passes(convention: str, tmp_path: Path) -> None:
    mask, scale = CONVENTIONS[convention]
    checks = grade(
        net_with_own_dropout(tmp_path, "cs231n-2021", mask, scale), "cs231n-2021", tmp_path
    )
    for cid in DROPOUT_NET_CHECKS:
        assert checks[cid].status == "passed", (cid, checks[cid].message)
        assert any("could not be injected" in note for note in checks[cid].notes)


@pytest.mark.parametrize(
    ("mask", "scale", "diagnosis", "lost"),
    [
        ("np.ones(x.shape)", "1", "never applies dropout", DROPOUT_NET_CHECKS),
        (
            "np.random.rand(*x.shape) < keep",
            "1",
            "does not scale them by 1/keep",
            DROPOUT_NET_CHECKS,
        ),
        # At keep 0.5 (the hidden check) a flip is the same dropout: only the keep-0.75 check
        # sees it.
        (
            "np.random.rand(*x.shape) < 1 - keep",
            "(1 - keep)",
            "keep and drop probability flipped",
            ("fc_dropout_loss",),
        ),
    ],
)
def test_inlined_wrong_dropout_fails_with_a_diagnosis(
    mask: str, scale: str, diagnosis: str, lost: tuple[str, ...], tmp_path: Path
) -> None:
    checks = grade(
        net_with_own_dropout(tmp_path, "cs231n-2021", mask, scale), "cs231n-2021", tmp_path
    )
    assert {cid for cid, c in checks.items() if c.status != "passed"} == set(lost)
    for cid in lost:
        assert checks[cid].status == "failed", (cid, checks[cid].message)
        assert checks[cid].diagnosis and diagnosis in checks[cid].diagnosis, (
            cid,
            checks[cid].diagnosis,
        )


def test_a_net_that_ignores_dropout_fails(tmp_path: Path) -> None:
    """The audit's case: ``use_dropout`` never set, so the net trains without dropout."""
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "examples" / "cs231n-2021" / "correct", sub)
    fc_net = sub / "cs231n" / "classifiers" / "fc_net.py"
    text = fc_net.read_text()
    assert "self.use_dropout = dropout_keep_ratio != 1" in text
    fc_net.write_text(
        text.replace("self.use_dropout = dropout_keep_ratio != 1", "self.use_dropout = False")
    )
    checks = grade(sub, "cs231n-2021", tmp_path)
    for cid in DROPOUT_NET_CHECKS:
        assert checks[cid].status == "failed", (cid, checks[cid].message)
        assert "never applies dropout" in (checks[cid].diagnosis or ""), checks[cid].diagnosis
    assert sum(c.status != "passed" for c in checks.values()) == len(DROPOUT_NET_CHECKS)


def test_the_net_must_pass_the_courses_p(tmp_path: Path) -> None:
    """C147's p is a drop probability: a net passing 1 - dropout is caught, injected or not."""
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "examples" / "ucla-c147-2022" / "correct", sub)
    fc_net = sub / "nndl" / "fc_net.py"
    text = fc_net.read_text()
    assert 'self.dropout_param = {"mode": "train", "p": dropout}' in text
    fc_net.write_text(text.replace('"p": dropout}', '"p": 1 - dropout}'))
    checks = grade(sub, "ucla-c147-2022", tmp_path)
    failed = {cid for cid, c in checks.items() if c.status != "passed"}
    # The hidden check runs at keep 0.5, where p and 1 - p coincide.
    assert failed == {"fc_dropout_loss"}, failed
    assert "flipped where the net builds dropout_param" in (
        checks["fc_dropout_loss"].diagnosis or ""
    )
