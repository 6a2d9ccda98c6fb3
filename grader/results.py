"""Result data model: what grading one submission produced.

``Outcome`` is what happened when one check ran (``grader.checks.execute``); ``CheckResult`` adds
the points ``grader.scoring`` decided. ``SubmissionResult`` is the truth; ``results.json``
(Gradescope's format plus our own detail), the terminal line and any HTML are views of it, and
every view reads what a student may see through ``grader.report.student_view``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "timeout"]
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]


@dataclass(frozen=True)
class ErrorSample:
    """How far a failing array was off, small enough to keep and plot (``grader.report.plots``).

    Made in the grading process from the two arrays it compared (``grader.compare``); it holds
    differences only, never either array.
    """

    shape: tuple[int, ...]
    """Shape of the compared arrays."""
    grid: tuple[tuple[float, ...], ...] | None
    """The signed difference got - expected as rows (a 1-D array as one row), for arrays of at
    most 2 dimensions (after dropping axes of length 1) and ``GRID_MAX`` elements; non-finite
    where the student's value was; None for larger arrays."""
    edges: tuple[float, ...]
    """log10 bin edges of the |difference| histogram (``len(counts) + 1`` of them)."""
    counts: tuple[int, ...]
    """Elements per bin; an error below the first edge counts in the first bin, above the last
    in the last."""
    nonfinite: int = 0
    """Elements where the student's value was NaN or infinite (not in ``counts``)."""


GRID_MAX = 4096
"""Largest array (elements) whose whole difference grid an ``ErrorSample`` keeps (64 x 64)."""


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing one student array with its expected counterpart (``grader.compare``)."""

    name: str
    """Which output was compared, e.g. ``"dx"`` or ``"config.velocity"``."""
    passed: bool
    """Whether every element satisfied the tolerance rule (and shape/dtype/finiteness checks)."""
    message: str
    """One human-readable sentence: the worst element, its index, both values and the threshold."""
    max_abs_err: float | None = None
    """Largest absolute difference, when shapes matched."""
    max_rel_err: float | None = None
    """cs231n ``rel_error`` of the pair, shown because students know it; informative only."""
    mismatched: int = 0
    """Number of elements outside the tolerance."""
    total: int = 0
    """Number of elements compared."""
    errors: ErrorSample | None = None
    """For a failed comparison of same-shaped arrays: the errors, for a plot."""


@dataclass(frozen=True)
class Raised:
    """The student's exception behind an ``error`` status, as the grading process words it."""

    type: str
    """The exception's class name (as the child reported it)."""
    where: str
    """`` (file.py, line N)`` of the innermost frame in a real file of the staged workspace (the
    grading process checked the file and the line), or ``""``."""
    context: str = ""
    """Host-worded words before ``raised`` in the redacted message, e.g. ``importing
    cs231n/layers.py failed: ``."""


@dataclass(frozen=True)
class ModuleProblem:
    """A module that does not import, said once for the submission; every check that needs it
    says it is blocked and points here (``SubmissionResult.notes``, ``extra["module_problems"]``).
    """

    module: str
    """The course path of the graded module that could not be imported (``cs231n/layers.py``)."""
    summary: str
    """What went wrong, host-worded or the exception as a visible check shows it, without a
    location: ``SyntaxError: invalid syntax``."""
    file: str = ""
    """Course path of the file where it went wrong (``cs231n/fast_layers.py``), or ``""``."""
    line: int | None = None
    """Line of ``file``, when known (checked to exist)."""
    code: str = ""
    """That line as the file has it (stripped, sanitized), or ``""``."""
    given: bool = False
    """``file`` is a course file that is given, not graded: not the student's mistake."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened when one check ran; no points yet (``grader.scoring`` decides them)."""

    check_id: str
    """The spec's check id."""
    status: Status
    """passed / failed / error (student code raised or returned garbage) / timeout."""
    message: str
    """What happened: the first failing comparison, or the error in full."""
    notes: tuple[str, ...] = ()
    """Advisory notes of the check (no points depend on them)."""
    comparisons: tuple[Comparison, ...] = ()
    """Every comparison made, in order."""
    diagnosis: str | None = None
    """Known mistake this failure looks like, when one matched within tolerance."""
    output: str = ""
    """What the student's code printed during this check (truncated); the student view omits it
    for checks that are not visible."""
    seconds: float = 0.0
    """Wall time of the check (a timing field: excluded from determinism comparisons)."""
    credit: Fraction | None = None
    """Fraction of the points the check's own evidence earned, for checks that give partial
    credit; None: all points when passed, none otherwise."""
    raised: Raised | None = None
    """The student's exception, when one ended the check (the student view redacts its text)."""
    redacted: str | None = None
    """What a check that is not visible shows instead of ``message`` when ``message`` quotes the
    child's own words and ``raised`` does not apply (a missing name, an ungradable value, a
    broken protocol): host-worded, no text of the child. None: nothing to redact."""
    blocked_by: ModuleProblem | None = None
    """The module problem that kept this check from running (its message then says so)."""
    curves: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Training histories the grading process measured or holds for this check, by name
    (``loss`` per iteration, ``train_acc``/``val_acc`` per epoch), for plots; empty when none."""
    exercised: tuple[str, ...] | None = None
    """Canonical subjects whose code ran during this check (the child's record, which only
    picks the root cause a report names, never points); None when not known."""


@dataclass(frozen=True, kw_only=True)
class CheckResult(Outcome):
    """One check of the spec on one submission: its outcome, and the points scoring gave it.

    ``message`` is the grader's full account; views show a check through
    ``grader.report.student_view``, which redacts what a student may not see.
    """

    part: str
    """Part (notebook) id the check belongs to."""
    title: str
    """Short human title shown in tables."""
    score: float
    """Points earned (0 or max_score unless the check gives partial credit)."""
    max_score: float
    """Points available."""
    visibility: Visibility
    """Gradescope visibility of this check."""
    root_cause: str | None = None
    """Check id of a failed dependency that likely explains this failure."""
    counts: bool = True
    """False for informative checks that carry no points."""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything grading one submission produced."""

    name: str
    """Submission name (folder/zip name, made unique in a batch), as found: any text a file name
    can hold; every view shows it through ``grader.report.names``."""
    assignment: str
    """Spec id the submission was graded against."""
    detection: str
    """How the assignment was chosen (explicit, or the detection evidence)."""
    checks: tuple[CheckResult, ...]
    """Check results in spec order."""
    isolation: str
    """Sandbox mode that ran the code: ``bwrap`` or ``process`` (isolation off)."""
    error: str | None = None
    """Submission-level problem (broken zip, nothing found...); checks then all score zero."""
    notes: tuple[str, ...] = ()
    """Other notes for the report (limits not enforced on this machine, compat shim used...)."""
    seconds: float = 0.0
    """Wall time of grading this submission (timing field)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Additional machine-readable detail (e.g. discovery evidence)."""
    log: str = ""
    """Everything the student's code printed (truncated): for the instructor only, never in
    results.json, since hidden checks' inputs entered the child."""
    folder: str = ""
    """Its folder under the output directory (``grader.report.names``: ``name`` itself when that
    is a safe folder name, else a safe slug of it); set by ``grader.api.grade``."""
    unwritten: str | None = None
    """Why its results.json and output.txt could not be written (set by ``grader.api.grade``):
    the scores stand, but no file holds them."""
    files: dict[str, str] = field(default_factory=dict)
    """Further files for the instructor, by name (``--execute``: the executed notebooks, as
    ``.ipynb`` and HTML); written beside results.json by the render stage."""

    @property
    def score(self) -> float:
        """Total points earned."""
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return sum(c.max_score for c in self.checks)
