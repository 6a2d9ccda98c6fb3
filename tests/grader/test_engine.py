"""Scoring rules (pure): award modes and root causes."""

from __future__ import annotations

import pytest

from grader.engine import score_checks
from grader.results import CheckResult
from grader.spec import Check


def check(cid: str, *, award: str = "points", value_check: str | None = None, depends: tuple[str, ...] = ()) -> Check:
    return Check(id=cid, part="p", kind="value", subject="affine_forward", points=2.0, visibility="visible",
                 seed=0, title=cid, shapes={}, params={}, tolerance=None, award=award,
                 value_check=value_check, depends=depends)


def result(cid: str, status: str) -> CheckResult:
    return CheckResult(check_id=cid, part="p", title=cid, status=status,  # type: ignore[arg-type]
                       score=2.0 if status == "passed" else 0.0, max_score=2.0, visibility="visible", message="m")


@pytest.mark.parametrize(
    ("value_status", "grad_status", "grad_score"),
    [("passed", "passed", 2.0), ("failed", "passed", 0.0), ("failed", "failed", 0.0), ("passed", "failed", 0.0)],
)
def test_gradient_checks_earn_points_only_with_their_value_check(value_status: str, grad_status: str,
                                                                 grad_score: float) -> None:
    checks = [check("v"), check("g", award="with_value", value_check="v")]
    scored = score_checks([result("v", value_status), result("g", grad_status)], checks)
    assert scored[1].score == grad_score
    if value_status == "failed" and grad_status == "passed":
        assert "consistently wrong" in scored[1].message


def test_informative_checks_carry_no_points() -> None:
    scored = score_checks([result("i", "passed")], [check("i", award="informative")])
    assert (scored[0].score, scored[0].max_score, scored[0].counts) == (0.0, 0.0, False)


def test_root_cause_is_the_first_failed_dependency() -> None:
    checks = [check("a"), check("b"), check("c", depends=("a", "b"))]
    scored = score_checks([result("a", "passed"), result("b", "failed"), result("c", "failed")], checks)
    assert scored[2].root_cause == "b"
    assert scored[1].root_cause is None
    passed = score_checks([result("a", "failed"), result("b", "failed"), result("c", "passed")], checks)
    assert passed[2].root_cause is None
