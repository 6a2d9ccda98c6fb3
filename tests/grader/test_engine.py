"""Scoring rules (pure): award modes and root causes."""

from __future__ import annotations

import pytest

from grader.engine import score_checks
from grader.results import CheckResult
from grader.spec import Check


def check(cid: str, *, award: str = "points", value_check: str | None = None, depends: tuple[str, ...] = (),
          points: float = 2.0) -> Check:
    return Check(id=cid, part="p", kind="value", subject="affine_forward", points=points, visibility="visible",
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


def test_root_cause_follows_dependencies_to_the_deepest_failure() -> None:
    checks = [check("layer"), check("net", depends=("layer",)), check("net_reg", depends=("net",)),
              check("net_deep", depends=("net_reg",))]
    statuses = {"layer": "failed", "net": "failed", "net_reg": "failed", "net_deep": "failed"}
    scored = score_checks([result(c.id, statuses[c.id]) for c in checks], checks)
    assert [r.root_cause for r in scored] == [None, "layer", "layer", "layer"]
    # When the layer passed, the first failing net check is the deepest cause.
    statuses["layer"] = "passed"
    scored = score_checks([result(c.id, statuses[c.id]) for c in checks], checks)
    assert [r.root_cause for r in scored] == [None, None, "net", "net"]


def test_optional_checks_are_never_a_root_cause() -> None:
    checks = [check("alt", points=0.0), check("info", award="informative"), check("net", depends=("alt", "info"))]
    scored = score_checks([result("alt", "failed"), result("info", "failed"), result("net", "failed")], checks)
    assert scored[2].root_cause is None


def test_cyclic_dependencies_terminate() -> None:
    checks = [check("a", depends=("b",)), check("b", depends=("a",))]
    scored = score_checks([result("a", "failed"), result("b", "failed")], checks)
    assert [r.root_cause for r in scored] == ["b", "a"]


@pytest.mark.parametrize(("visibility", "shown"), [("visible", True), ("hidden", False), ("after_due_date", False)])
def test_student_exception_text_is_not_shown_for_hidden_checks(visibility: str, shown: bool) -> None:
    """A hidden check's inputs are in the student's reach: ``raise ValueError(repr(x))`` must not leak them."""
    from dataclasses import replace

    from grader.api import get_spec
    from grader.engine import _raised_message
    from grader.runner import StudentRaised

    spec = get_spec("cs231n-2021")
    hidden_check = replace(spec.checks[0], visibility=visibility)
    exc = StudentRaised({"type": "ValueError", "message": "array([[0.123456789, 0.987654321]])",
                         "traceback": 'Traceback:\n  File "/ws/cs231n/layers.py", line 12, in affine_forward\n'})
    message = _raised_message(hidden_check, spec, exc)
    assert ("0.123456789" in message) is shown
    assert "ValueError" in message and "layers.py, line 12" in message
