"""Scoring (pure, table-driven): award modes, fractional credit and root causes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from grader.results import Outcome
from grader.scoring import earned, score
from grader.spec import Check


def check(
    cid: str,
    *,
    award: str = "points",
    value_check: str | None = None,
    depends: tuple[str, ...] = (),
    points: float = 2.0,
) -> Check:
    return Check(
        id=cid,
        part="p",
        kind="value",
        subject="affine_forward",
        points=points,
        visibility="visible",
        seed=0,
        title=cid,
        shapes={},
        params={},
        tolerance=None,
        award=award,
        value_check=value_check,
        depends=depends,
    )


def outcome(cid: str, status: str, credit: Fraction | None = None) -> Outcome:
    return Outcome(check_id=cid, status=status, message="m", credit=credit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "credit", "points", "expected"),
    [
        ("passed", None, 2.0, 2.0),
        ("failed", None, 2.0, 0.0),
        ("error", None, 2.0, 0.0),
        ("timeout", None, 2.0, 0.0),
        ("passed", Fraction(1, 2), 2.0, 1.0),
        ("failed", Fraction(14, 28), 10.0, 5.0),  # partial credit stands whatever the status
        ("passed", Fraction(0), 10.0, 0.0),
        ("passed", Fraction(25, 28), 28.0, 25.0),  # exact: no float product rounds it away
        ("passed", Fraction(1, 3), 3.0, 1.0),
    ],
)
def test_a_check_earns_its_points_times_its_credit(
    status: str, credit: Fraction | None, points: float, expected: float
) -> None:
    assert earned(outcome("a", status, credit), check("a", points=points)) == expected
    (result,) = score([outcome("a", status, credit)], [check("a", points=points)])
    assert (result.score, result.max_score) == (expected, points)


@pytest.mark.parametrize(
    ("value_status", "grad_status", "grad_score"),
    [
        ("passed", "passed", 2.0),
        ("failed", "passed", 0.0),
        ("failed", "failed", 0.0),
        ("passed", "failed", 0.0),
    ],
)
def test_gradient_checks_earn_points_only_with_their_value_check(
    value_status: str, grad_status: str, grad_score: float
) -> None:
    checks = [check("v"), check("g", award="with_value", value_check="v")]
    scored = score([outcome("v", value_status), outcome("g", grad_status)], checks)
    assert scored[1].score == grad_score
    consistently_wrong = value_status == "failed" and grad_status == "passed"
    assert ("consistently wrong" in scored[1].message) is consistently_wrong


@pytest.mark.parametrize("status", ["passed", "failed"])
def test_informative_checks_carry_no_points_and_do_not_count(status: str) -> None:
    (scored,) = score([outcome("i", status)], [check("i", award="informative")])
    assert (scored.score, scored.max_score, scored.counts) == (0.0, 0.0, False)


def test_root_cause_is_the_first_failed_dependency() -> None:
    checks = [check("a"), check("b"), check("c", depends=("a", "b"))]
    scored = score([outcome("a", "passed"), outcome("b", "failed"), outcome("c", "failed")], checks)
    assert [r.root_cause for r in scored] == [None, None, "b"]
    passed = score([outcome("a", "failed"), outcome("b", "failed"), outcome("c", "passed")], checks)
    assert passed[2].root_cause is None


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ("failed", [None, "layer", "layer", "layer"]),
        (
            "passed",
            [None, None, "net", "net"],
        ),  # the first failing net check is then the deepest cause
    ],
)
def test_root_cause_follows_dependencies_to_the_deepest_failure(
    layer: str, expected: list[str | None]
) -> None:
    checks = [
        check("layer"),
        check("net", depends=("layer",)),
        check("net_reg", depends=("net",)),
        check("net_deep", depends=("net_reg",)),
    ]
    statuses = {"layer": layer, "net": "failed", "net_reg": "failed", "net_deep": "failed"}
    scored = score([outcome(c.id, statuses[c.id]) for c in checks], checks)
    assert [r.root_cause for r in scored] == expected


def test_optional_checks_are_never_a_root_cause() -> None:
    checks = [
        check("alt", points=0.0),
        check("info", award="informative"),
        check("net", depends=("alt", "info")),
    ]
    scored = score(
        [outcome("alt", "failed"), outcome("info", "failed"), outcome("net", "failed")], checks
    )
    assert scored[2].root_cause is None


def test_cyclic_dependencies_terminate() -> None:
    checks = [check("a", depends=("b",)), check("b", depends=("a",))]
    scored = score([outcome("a", "failed"), outcome("b", "failed")], checks)
    assert [r.root_cause for r in scored] == ["b", "a"]


def test_outcomes_must_follow_the_checks_order() -> None:
    with pytest.raises(ValueError, match="same order"):
        score([outcome("b", "passed"), outcome("a", "passed")], [check("a"), check("b")])
