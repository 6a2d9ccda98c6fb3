"""Course specs as frozen dataclasses: what ``grader.spec.parse`` builds from the TOML files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from grader.checks.catalog import module_of, modules_needed
from grader.errors import SpecError
from grader.spec.notebooks import NotebookSpec
from grader.spec.service import ServiceSpec

__all__ = ["STATE_KEYS", "Api", "Check", "FinalAccuracy", "Part", "Spec", "Tolerance"]

STATE_KEYS = ("velocity", "cache", "m", "v", "t")
"""Canonical optimizer state keys (``config`` entries an update rule writes back)."""


@dataclass(frozen=True)
class Part:
    """A part of the assignment (one notebook): a short ``id`` (``fc``, ``bn``...), a ``title``."""

    id: str
    title: str


@dataclass(frozen=True)
class Api:
    """How a course names and interprets the canonical API (the reference's)."""

    dropout_p: str = "keep"
    """Meaning of ``dropout_param['p']``: ``keep`` or ``drop`` probability."""
    fc_dropout_arg: str = "dropout_keep_ratio"
    """FullyConnectedNet constructor argument for dropout."""
    fc_dropout_off: float = 1.0
    """Value of that argument that disables dropout (1 for keep, 0 for drop)."""
    fc_normalization: str = "normalization"
    """``normalization`` (string None/'batchnorm'/'layernorm') or ``use_batchnorm`` (bool)."""
    bn_mode_line: str = "fixed"
    """``fixed``: loss(X) uses running stats; ``starter``: BN stays in train mode; ``either``."""
    adam_t_default: int = 0
    """Value the course's adam uses when ``config`` has no ``t``."""
    twolayer_hidden_arg: str = "hidden_dim"
    """TwoLayerNet constructor argument for the hidden size (UCLA: ``hidden_dims``)."""
    state_keys: Mapping[str, str] = field(default_factory=lambda: {k: k for k in STATE_KEYS})
    """Canonical optimizer state key -> the course's key (UCLA: cache->a, m->v, v->a)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Canonical function/class name -> the course's name, where they differ."""
    not_student_work: tuple[str, ...] = ()
    """Canonical names given (pre-implemented) in this offering: their checks are not run."""
    compat: bool = False
    """Enable the compatibility shim (removed numpy aliases, past/future/six, torch stand-in)."""
    flip_policy: str = "no_credit"
    """Keep/drop flipped dropout: ``no_credit`` (default) or ``credit``."""

    def name(self, canonical: str) -> str:
        """The course's name for a canonical function or class."""
        return self.names.get(canonical, canonical)


class Tolerance(NamedTuple):
    """Elementwise rule |actual - expected| <= atol + rtol * |expected| (see grader.compare)."""

    rtol: float
    """Relative part, scaled by the expected (reference) value."""
    atol: float
    """Absolute part, for elements near zero."""


@dataclass(frozen=True)
class Check:
    """One graded check: what to test, on which inputs, for how many points."""

    id: str
    """Unique within the spec; named by ``depends`` and ``value_check`` and in every report."""
    part: str
    """Id of the part (notebook) it belongs to."""
    kind: str
    """Check kind (``grader.checks.catalog.KINDS``)."""
    subject: str
    """Canonical function or class the check is about (e.g. ``batchnorm_backward``)."""
    points: float
    """Points it is worth (0: optional, never a root cause)."""
    visibility: str
    """Gradescope visibility: ``visible``, ``hidden``, ``after_due_date``, ``after_published``."""
    seed: int
    """Seed of its inputs (the notebooks' ``np.random.seed``)."""
    title: str
    """Short human title shown in tables."""
    shapes: Mapping[str, tuple[int, ...]]
    """Input name -> shape, where the kind's default shape is not wanted."""
    params: Mapping[str, Any]
    """Kind-specific parameters (the keys the catalogue lists for the kind)."""
    tolerance: Tolerance | None
    """Overrides the spec's dtype default when set."""
    award: str
    """``points`` (normal), ``with_value`` (gradient checks: only if ``value_check`` passed) or
    ``informative`` (no points)."""
    value_check: str | None
    """With ``award = "with_value"``: the value check that must pass too."""
    depends: tuple[str, ...]
    """Checks whose failure is named as the likely root cause when this one fails."""


@dataclass(frozen=True)
class FinalAccuracy:
    """Score rule for the trained model: points * clip(floor(X - lower) / (upper - lower), 0, 1).

    X is the accuracy in percent, measured by the grading process on ``split`` (``val``: training
    images 49,000-49,999; ``test``: all of ``test_batch``). ``lower == upper`` is a threshold: all
    points at ``upper``. Parsed by ``grader.spec.final_accuracy``; graded by ``grader.accuracy``.
    """

    lower: float
    upper: float
    points: float
    split: str = "val"
    id: str = "final_accuracy"
    """The test's id in the result (unique among the spec's checks)."""
    title: str = "final model accuracy (measured)"
    part: str = ""
    """Part the test belongs to (default: the spec's last part)."""
    visibility: str = "visible"
    sources: tuple[str, ...] = ("npz", "notebook")
    """Where the model may come from, in order of preference: ``npz`` (``model_file``),
    ``course-npy`` (``course_files``, opened in the sandbox), ``notebook`` (``--execute``)."""
    model_file: str = "best_model.npz"
    """Name of the nngrader model file, found anywhere in the submission."""
    course_files: tuple[str, ...] = ()
    """Names of the course's own ``.npy`` model files (``np.save`` of the params dict)."""
    subtract_mean: bool = True
    """The course's preprocessing: subtract the mean image of the first 49,000 training images."""


@dataclass(frozen=True)
class Spec:
    """A validated course spec."""

    id: str
    title: str
    path: Path
    student_modules: Mapping[str, str]
    """Logical module name -> canonical path in the course layout (``cs231n/layers.py``)."""
    given_modules: Mapping[str, str]
    """Canonical path -> trusted given module (``solver``, ``gradient_check``, ``data``)."""
    api: Api
    tolerances: Mapping[str, Tolerance]
    parts: tuple[Part, ...]
    checks: tuple[Check, ...]
    final_accuracy: tuple[FinalAccuracy, ...]
    """The accuracy rules (``[final_accuracy]`` or ``[[final_accuracy]]``); each is a test of its
    own when the grader has CIFAR-10 data."""
    offerings: Mapping[str, Mapping[str, Any]]
    """Offering name -> api overrides (e.g. ``{"2025": {"not_student_work": [...]}}``)."""
    detect: Mapping[str, Any]
    """Evidence used to recognise submissions of this course (package names, signatures)."""
    limits: Mapping[str, float] = field(default_factory=dict)
    """Sandbox limits this course sets (``Limits`` field names); the command line overrides them."""
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    """Course path -> stand-in kind (``STAND_INS``), used when the submission lacks the file."""
    runtime: tuple[str, ...] = ()
    """Distributions the course's given and student code import besides numpy (``matplotlib``):
    installed with nngrader's ``courses`` extra and bound read-only into the sandbox."""
    notebooks: NotebookSpec = field(default_factory=NotebookSpec)
    """How the submission's notebooks are read (``[notebooks]``, ``grader.spec.notebooks``)."""
    instructor_points: float = 0.0
    """Points graded by the instructor only, beyond the non-visible checks here: a student kit's
    spec holds its public checks only, and this is what the others are worth."""
    service: ServiceSpec = field(default_factory=ServiceSpec, repr=False)
    """What the grading service takes (``[service]``, ``grader.spec.service``). Not in ``repr``:
    a batch's settings digest (``grader.fingerprint``) holds what grades; this grades nothing."""

    def module_of(self, canonical: str) -> str:
        """Logical module that defines a canonical function or class."""
        return module_of(canonical)

    def modules_needed(self, check: Check) -> list[str]:
        """Logical student modules ``check`` imports (in import order)."""
        return modules_needed(check.kind, check.subject, self.student_modules)

    def dotted(self, logical: str) -> str:
        """Importable dotted name of a student module."""
        return self.student_modules[logical].removesuffix(".py").replace("/", ".")

    def tolerance(self, check: Check, dtype: str = "float64") -> Tolerance:
        """The tolerance for a student output of ``dtype``: the check's override, else the spec's.

        A float32 output is never held to less than the spec's float32 tolerance, so a check's
        tight float64 override does not fail float32 arithmetic the spec permits.
        """
        default = self.tolerances[dtype]
        if check.tolerance is None:
            return default
        if dtype == "float32":
            return Tolerance(
                max(check.tolerance.rtol, default.rtol), max(check.tolerance.atol, default.atol)
            )
        return check.tolerance

    def for_offering(self, offering: str | None) -> Spec:
        """This spec with an offering's api overrides applied."""
        if offering is None:
            return self
        if offering not in self.offerings:
            raise SpecError(
                self.path, "offerings", f"no offering {offering!r}; have {sorted(self.offerings)}"
            )
        overrides = dict(self.offerings[offering])
        if "not_student_work" in overrides:
            overrides["not_student_work"] = tuple(overrides["not_student_work"])
        return replace(self, api=replace(self.api, **overrides))

    def withheld_points(self) -> float:
        """What the public checks leave out: non-visible checks that are student work, accuracy
        rules that are not visible, and ``instructor_points``."""
        checks = sum(c.points for c in self.active_checks() if c.visibility != "visible")
        rules = sum(r.points for r in self.final_accuracy if r.visibility != "visible")
        return checks + rules + self.instructor_points

    def kit_withheld_points(self) -> float:
        """What a student kit leaves to the instructor: ``withheld_points`` and the visible
        accuracy rules too (a kit grades no accuracy: the validation labels are not in it)."""
        visible = sum(r.points for r in self.final_accuracy if r.visibility == "visible")
        return self.withheld_points() + visible

    def public(self) -> Spec:
        """This spec with its visible checks and accuracy rules only, the others' points in
        ``instructor_points`` (what ``nngrader check`` grades)."""
        return replace(
            self,
            checks=tuple(c for c in self.checks if c.visibility == "visible"),
            final_accuracy=tuple(r for r in self.final_accuracy if r.visibility == "visible"),
            instructor_points=self.withheld_points(),
        )

    def active_checks(self) -> tuple[Check, ...]:
        """Checks whose subject is student work in this offering."""
        return tuple(c for c in self.checks if c.subject not in self.api.not_student_work)
