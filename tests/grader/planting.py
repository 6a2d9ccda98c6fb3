"""Helpers of the end-to-end course tests: planting mistakes, grading, and expected losses.

Mistakes are planted by appending a wrapper to the student's module that perturbs one function,
or by editing one line of the bundled correct example. Submissions run in plain processes
(``sandbox="process"``): these are the project's own files; the sandbox has its own suite.

The expected set of lost checks is derived from the spec's subjects and ``depends``
(``of``, ``dependents``, ``uses``). Used by ``test_courses.py`` and ``test_diagnosis.py``.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import textwrap
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import CheckResult, SubmissionResult
from grader.spec import Check, Spec
from tests.bundled import BundledResults

ROOT = Path(__file__).resolve().parents[2]
COURSES = {  # spec id -> bundled correct example
    spec_id: ROOT / "examples" / spec_id / "correct"
    for spec_id in (
        "cs231n-2021",
        "ucla-c147-2022",
        "cs182-sp25",
        "cs231n-2017",
        "cs231n-2018",
        "dasecv-2021",
        "ucla-ece239as-2018",
    )
}

# What importing a logical module imports as well, in every bundled layout (fc_net imports
# layers and layer_utils; layer_utils imports layers).
IMPORTS = {
    "layers": {"layers"},
    "layer_utils": {"layers", "layer_utils"},
    "fc_net": {"layers", "layer_utils", "fc_net"},
    "optim": {"optim"},
}


@functools.cache
def course_spec(course: str) -> Spec:
    """``api.get_spec(course)``, parsed once per session (specs are frozen)."""
    return api.get_spec(course)


def skip_without(course: str) -> None:
    if not COURSES[course].is_dir():
        pytest.skip(f"bundled example {COURSES[course]} missing")


# -- grading --------------------------------------------------------------------------------------


def touching(spec: Spec, *modules: str) -> Spec:
    """``spec`` with only the checks whose code imports one of ``modules``.

    A change to one module cannot alter a check that never imports it, and every check of the
    full spec passes on the correct example (``test_correct_submission_scores_full_marks``), so
    grading a planted mistake on these checks alone decides exactly which checks it costs.
    """
    return replace(
        spec,
        checks=tuple(
            c
            for c in spec.checks
            if any(m in IMPORTS[n] for m in modules for n in spec.modules_needed(c))
        ),
    )


def just(spec: Spec, *check_ids: str) -> Spec:
    """``spec`` with only ``check_ids``: for a test that reads nothing else.

    Every check starts from a fresh, seeded state in the child, so its result does not depend
    on which other checks ran before it.
    """
    assert {c.id for c in spec.checks} >= set(check_ids), check_ids
    return replace(spec, checks=tuple(c for c in spec.checks if c.id in check_ids))


_SHARED: OrderedDict[tuple[str, ...], SubmissionResult] = OrderedDict()
SHARED_SIZE = 64
"""Gradings kept for other tests that grade the very same thing (most recent first out)."""


def _digest(path: Path) -> str:
    """Every file under ``path``: its relative path and content."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        data = file.read_bytes()
        digest.update(f"{file.relative_to(path).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def grade(
    path: Path, spec: Spec, tmp: Path, *, only: str | None = None, **limits: float
) -> SubmissionResult:
    """Grade a submission folder; ``only``: just the checks that import that logical module.

    Grading is deterministic (``test_determinism.py``), so a test grading the very same files
    on the same checks under the same limits as an earlier test reads that test's result.
    """
    spec = touching(spec, only) if only else spec
    limits = {"check_seconds": 20.0, **limits}
    key = (path.name, _digest(path), repr(spec), repr(sorted(limits.items())))
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    (sub,) = intake.collect([path], tmp / "intake", lms=False)
    result = api.grade_submission(
        sub, spec=spec, workdir=tmp / "work", sandbox="process", limits=limits
    )
    _SHARED[key] = result
    while len(_SHARED) > SHARED_SIZE:
        _SHARED.popitem(last=False)
    return result


def same_files(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same contents."""
    return _digest(a) == _digest(b)


def grade_or_share(
    path: Path, spec: Spec, tmp: Path, shared: BundledResults, *, only: str | None = None
) -> SubmissionResult:
    """``grade``, but the session's result of the course's correct example when ``path`` holds
    exactly its files and ``spec`` is the course's own: all of its checks, which is more than
    ``only`` asks for."""
    if spec.id in COURSES and spec == course_spec(spec.id) and same_files(path, COURSES[spec.id]):
        return shared.result(f"{spec.id}/correct")
    return grade(path, spec, tmp, only=only)


def by_id(result: SubmissionResult) -> dict[str, CheckResult]:
    return {c.check_id: c for c in result.checks}


def lost(result: SubmissionResult) -> set[str]:
    """Checks with points that did not earn all of them."""
    return {
        c.check_id for c in result.checks if c.counts and c.max_score > 0 and c.score < c.max_score
    }


def failures(result: SubmissionResult) -> list[tuple[str, str, str | None]]:
    """(id, message, diagnosis) of every check that did not pass: the assertion messages."""
    return [
        (c.check_id, c.message, c.diagnosis)
        for c in result.checks
        if c.status != "passed" or c.score < c.max_score
    ]


# -- planting -------------------------------------------------------------------------------------


def plant(src: Path, dest: Path, spec: Spec, module: str, code: str) -> Path:
    """Copy the correct example and append ``code`` to one of its student modules."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules[module]
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))
    return dest


def patch(src: Path, dest: Path, spec: Spec, module: str, *edits: tuple[str, str]) -> Path:
    """Copy the correct example and replace text in one of its student modules."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules[module]
    text = path.read_text()
    for old, new in edits:
        assert old in text, f"{old!r} not in {path}"
        text = text.replace(old, new)
    path.write_text(text)
    return dest


def own_dropout(src: Path, dest: Path, spec: Spec) -> Path:
    """The correct example whose net calls its own copy of dropout_forward (``_own_dropout``: a
    separate function object with the same code), so the grader cannot inject masks into it."""
    patch(
        src,
        dest,
        spec,
        "fc_net",
        (
            "h, drop_cache = dropout_forward(h, self.dropout_param)",
            "h, drop_cache = _own_dropout(h, self.dropout_param)",
        ),
    )
    fc_net = dest / spec.student_modules["fc_net"]
    copy = (
        "\n\nimport types as _types\n\n"
        "_own_dropout = _types.FunctionType(\n"
        "    dropout_forward.__code__, dropout_forward.__globals__\n"
        ")\n"
    )
    fc_net.write_text(fc_net.read_text() + copy)
    return dest


# -- expected losses, derived from the spec -------------------------------------------------------


def scored(spec: Spec) -> dict[str, Check]:
    """The active checks that carry points."""
    return {c.id: c for c in spec.active_checks() if c.award != "informative" and c.points > 0}


def of(spec: Spec, *subjects: str, where: Callable[[Check], bool] = lambda c: True) -> set[str]:
    """Scored checks about one of ``subjects`` (those ``where`` accepts)."""
    return {i for i, c in scored(spec).items() if c.subject in subjects and where(c)}


def dependents(
    spec: Spec, ids: Iterable[str], where: Callable[[Check], bool] = lambda c: True
) -> set[str]:
    """Scored checks that depend on one of ``ids`` (``depends`` or ``value_check``), transitively,
    through checks that ``where`` accepts."""
    found, start = set(ids), set(ids)
    grew = True
    while grew:
        grew = False
        for c in spec.active_checks():
            if c.id not in found and where(c) and ({*c.depends, c.value_check} & found):
                found.add(c.id)
                grew = True
    return (found - start) & set(scored(spec))


def uses(spec: Spec, *subjects: str) -> set[str]:
    """The scored checks of ``subjects`` and everything that depends on them."""
    own = of(spec, *subjects)
    return own | dependents(spec, own)


def students(subject: str, courses: Iterable[str] = COURSES) -> list[str]:
    """The courses in which ``subject`` is graded student work."""
    return [c for c in courses if of(course_spec(c), subject)]


def is_net(check: Check) -> bool:
    return check.kind == "model_loss"


def bn_net(check: Check) -> bool:
    return is_net(check) and check.params.get("normalization") == "batchnorm"


def dropout_net(check: Check) -> bool:
    return is_net(check) and check.params.get("dropout_keep", 1) != 1


def regularized(check: Check) -> bool:
    return is_net(check) and check.params.get("reg", 0) != 0
