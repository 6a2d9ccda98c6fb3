"""The exception taxonomy (``grader.errors``): errors with their own arguments survive pickling,
as they do crossing from a worker process (a batch's pool, a Dask worker) to the grader."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from grader.errors import (
    GraderError,
    SpecError,
    StudentMissing,
    StudentRaised,
    StudentUngradable,
    student_raised,
)


def _round_trip(error: Exception) -> Exception:
    """``error`` through pickle, as a worker process sends it (our own object: S301 is moot)."""
    found: Exception = pickle.loads(pickle.dumps(error))  # noqa: S301
    return found


def test_a_spec_error_keeps_its_file_key_and_problem_across_pickling() -> None:
    error = _round_trip(SpecError("a.toml", "checks[2].tol", "must be > 0"))
    assert isinstance(error, SpecError) and isinstance(error, GraderError)
    assert (error.path, error.key, error.problem) == (
        Path("a.toml"),
        "checks[2].tol",
        "must be > 0",
    )
    assert str(error) == "a.toml: checks[2].tol: must be > 0"


@pytest.mark.parametrize("kind", [StudentRaised, StudentMissing, StudentUngradable])
def test_a_student_error_keeps_the_child_s_account_across_pickling(
    kind: type[StudentRaised],
) -> None:
    account = {"type": "ValueError", "message": "bad shape", "traceback": "File layers.py"}
    error = _round_trip(kind(account, "file size limit"))
    assert isinstance(error, kind) and type(error) is kind
    assert (error.type, error.detail, error.traceback, error.limit) == (
        "ValueError", "bad shape", "File layers.py", "file size limit",
    )  # fmt: skip
    assert str(error) == "ValueError: bad shape: file size limit"


def test_the_child_s_kind_picks_the_exception() -> None:
    assert type(student_raised({"kind": "missing", "type": "AttributeError"})) is StudentMissing
    assert type(student_raised({"kind": "something new"})) is StudentRaised
