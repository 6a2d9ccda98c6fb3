"""Course specs: TOML files in ``assignments/`` loaded into frozen dataclasses and validated.

The format is documented for instructors in ``assignments/README.md``. Every problem is reported
as a ``SpecError`` naming the file, the key and what is wrong. ``SCHEMA_VERSION`` is the version
this code reads; older versions are upgraded by the steps in ``UPGRADES``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from grader.errors import SpecError

SCHEMA_VERSION = 1
CHECK_KINDS = ("value", "gradient", "model_init", "model_loss", "dropout", "solver")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
STATE_KEYS = ("velocity", "cache", "m", "v", "t")
GIVEN_MODULES = ("solver", "gradient_check", "data")
STAND_INS = ("empty", "layer_utils")
"""What can stand in for a course module a submission lacks: an empty module (a CNN-part helper
such as ``fast_layers.py`` that graded code imports but never calls), or the starter's
``layer_utils`` composites over the student's own layers."""
LIMIT_KEYS = ("check_seconds", "submission_seconds", "cpu_seconds", "memory_bytes", "max_processes",
              "max_open_files", "max_file_bytes", "output_bytes", "threads")
_NET_PARAMS = ("hidden_dims", "hidden_dim", "input_dim", "num_classes", "weight_scale", "dtype",
               "normalization", "dropout_keep", "dropout_seed", "reg")
CHECK_PARAMS: dict[str, tuple[str, ...]] = {
    "value": ("mode", "eps", "momentum", "scale", "shift", "warmup", "fixture", "learning_rate",
              "decay_rate", "beta1", "beta2", "epsilon", "t", "fresh"),
    "gradient": ("h", "scale", "shift", "mode"),
    "model_init": _NET_PARAMS,
    "model_loss": (*_NET_PARAMS, "num_inputs", "linspace", "labels", "perturb", "scores"),
    "dropout": ("keep", "shift"),
    "solver": ("update_rule", "learning_rate", "hidden_dims", "num_epochs", "batch_size", "num_train",
               "num_val", "image_size", "min_accuracy", "weight_scale", "reg", "lr_decay"),
}
"""The ``params`` keys each check kind reads (a misspelt key would otherwise be ignored silently)."""
SHAPE_NAMES = ("x", "w", "b", "gamma", "beta", "dout", "dw", "running_mean")
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""schema version -> function upgrading a raw spec of that version to the next one."""


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


@dataclass(frozen=True)
class Tolerance:
    """Elementwise rule |actual - expected| <= atol + rtol * |expected| (see grader.compare)."""

    rtol: float
    atol: float


@dataclass(frozen=True)
class Check:
    """One graded check."""

    id: str
    part: str
    kind: str
    subject: str
    """Canonical function or class the check is about (e.g. ``batchnorm_backward``)."""
    points: float
    visibility: str
    seed: int
    title: str
    shapes: Mapping[str, tuple[int, ...]]
    params: Mapping[str, Any]
    tolerance: Tolerance | None
    """Overrides the spec's dtype default when set."""
    award: str
    """``points`` (normal), ``with_value`` (gradient checks: only if ``value_check`` passed) or
    ``informative`` (no points)."""
    value_check: str | None
    depends: tuple[str, ...]
    """Checks whose failure is named as the likely root cause when this one fails."""


@dataclass(frozen=True)
class Part:
    id: str
    title: str


@dataclass(frozen=True)
class FinalAccuracy:
    """Score rule for the trained model: points * clip((floor(X) - lower) / (upper - lower), 0, 1).

    X is the accuracy in percent. ``lower == upper`` is a threshold: all points at ``upper``.
    """

    lower: float
    upper: float
    points: float
    split: str = "val"

    def score(self, accuracy_percent: float) -> float:
        """Points for an accuracy in percent (UCLA: ``min(floor(X - 32) / 28, 1)`` of the points)."""
        x = math.floor(accuracy_percent)
        if self.upper == self.lower:
            return self.points if x >= self.upper else 0.0
        return self.points * min(max((x - self.lower) / (self.upper - self.lower), 0.0), 1.0)


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
    final_accuracy: FinalAccuracy | None
    offerings: Mapping[str, Mapping[str, Any]]
    """Offering name -> api overrides (e.g. ``{"2025": {"not_student_work": [...]}}``)."""
    detect: Mapping[str, Any]
    """Evidence used to recognise submissions of this course (package names, signatures)."""
    limits: Mapping[str, float] = field(default_factory=dict)
    """Sandbox limits this course sets (``grader.sandbox.Limits`` field names); the CLI overrides them."""
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    """Course path -> stand-in kind (``STAND_INS``), supplied only when the submission lacks the file."""

    def module_of(self, canonical: str) -> str:
        """Logical module that defines a canonical function or class."""
        return SUBJECT_MODULES.get(canonical, "layers")

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
            return Tolerance(max(check.tolerance.rtol, default.rtol), max(check.tolerance.atol, default.atol))
        return check.tolerance

    def for_offering(self, offering: str | None) -> Spec:
        """This spec with an offering's api overrides applied."""
        if offering is None:
            return self
        if offering not in self.offerings:
            raise SpecError(self.path, "offerings", f"no offering {offering!r}; have {sorted(self.offerings)}")
        overrides = dict(self.offerings[offering])
        if "not_student_work" in overrides:
            overrides["not_student_work"] = tuple(overrides["not_student_work"])
        return replace(self, api=replace(self.api, **overrides))

    def active_checks(self) -> tuple[Check, ...]:
        """Checks whose subject is student work in this offering."""
        return tuple(c for c in self.checks if c.subject not in self.api.not_student_work)


SUBJECT_MODULES = {
    **{n: "optim" for n in ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")},
    "TwoLayerNet": "fc_net",
    "FullyConnectedNet": "fc_net",
}


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(path: str | Path) -> Spec:
    """Read, upgrade and validate one spec file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(path, "", f"cannot read the file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(path, "", f"not valid TOML: {exc}") from None
    return parse_spec(raw, path)


def parse_spec(raw: dict[str, Any], path: Path) -> Spec:
    """Validate an already-parsed TOML document."""
    r = _Reader(raw, path, "")
    version = r.int("schema_version")
    if version > SCHEMA_VERSION or version < 1:
        raise SpecError(path, "schema_version", f"{version} is not supported (this nngrader reads 1..{SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        raw = UPGRADES[version](raw)
        version += 1
    r = _Reader(raw, path, "")
    r.only("schema_version", "id", "title", "layout", "api", "tolerance", "parts", "checks", "final_accuracy",
           "offerings", "detect", "limits")
    layout = r.table("layout")
    layout.only("student", "given", "stand_ins")
    student = {k: layout.table("student").str(k) for k in layout.table("student").keys()}
    for logical, rel in student.items():
        if not rel.endswith(".py") or rel.startswith("/") or ".." in rel.split("/"):
            raise SpecError(path, f"layout.student.{logical}", f"{rel!r} is not a relative .py path")
    given_table = layout.table("given", required=False)
    given = {k: given_table.str(k) for k in given_table.keys()}
    for rel, module in given.items():
        if module not in GIVEN_MODULES:
            raise SpecError(path, f"layout.given.{rel}", f"{module!r} is not one of {list(GIVEN_MODULES)}")
    stand_in_table = layout.table("stand_ins", required=False)
    stand_ins = {k: stand_in_table.choice(k, STAND_INS) for k in stand_in_table.keys()}
    for rel in stand_ins:
        if not rel.endswith(".py") or rel.startswith("/") or ".." in rel.split("/") or rel in given:
            raise SpecError(path, stand_in_table.key(rel), "must be a relative .py path that is not a given module")
    api = _parse_api(r.table("api", required=False))
    tolerances = _parse_tolerances(r.table("tolerance", required=False))
    parts = tuple(Part(p.str("id"), p.str("title")) for p in r.array("parts"))
    part_ids = {p.id for p in parts}
    checks = tuple(_parse_check(c, part_ids) for c in r.array("checks"))
    _validate_checks(checks, student, path)
    final = r.table("final_accuracy", required=False)
    final_accuracy = None
    if final.keys():
        final.only("lower", "upper", "points", "split")
        final_accuracy = FinalAccuracy(final.num("lower"), final.num("upper"), final.num("points"), final.str("split", "val"))
        if final_accuracy.upper < final_accuracy.lower:
            raise SpecError(path, "final_accuracy.upper", "must not be below lower (equal: a threshold)")
    offerings_table = r.table("offerings", required=False)
    offerings: dict[str, Mapping[str, Any]] = {}
    for name in offerings_table.keys():
        o = offerings_table.table(name)
        _parse_api(o)  # validates the override keys and values
        offerings[name] = dict(o.raw)
    detect = r.table("detect", required=False)
    detect.only("packages", "patterns", "absent")
    detect.str_list("packages", [])
    for key in ("patterns", "absent"):
        table = detect.table(key, required=False)
        for logical in table.keys():
            if logical not in student:
                raise SpecError(path, table.key(logical), "is not a module declared in layout.student")
            table.str_list(logical, [])
    limits_table = r.table("limits", required=False)
    limits_table.only(*LIMIT_KEYS)
    limits = {key: limits_table.num(key) for key in limits_table.keys()}
    for key, value in limits.items():
        if value <= 0:
            raise SpecError(path, limits_table.key(key), "must be positive")
    return Spec(
        id=r.str("id"), title=r.str("title"), path=path, student_modules=student, given_modules=given,
        api=api, tolerances=tolerances, parts=parts, checks=checks, final_accuracy=final_accuracy,
        offerings=offerings, detect=dict(detect.raw), limits=limits, stand_ins=stand_ins,
    )


def _parse_api(t: _Reader) -> Api:
    d = Api()
    t.only(*Api.__dataclass_fields__)
    state = t.table("state_keys", required=False)
    state.only(*STATE_KEYS)
    names = t.table("names", required=False)
    api = Api(
        dropout_p=t.choice("dropout_p", ("keep", "drop"), d.dropout_p),
        fc_dropout_arg=t.str("fc_dropout_arg", d.fc_dropout_arg),
        fc_dropout_off=t.num("fc_dropout_off", d.fc_dropout_off),
        fc_normalization=t.choice("fc_normalization", ("normalization", "use_batchnorm"), d.fc_normalization),
        bn_mode_line=t.choice("bn_mode_line", ("fixed", "starter", "either"), d.bn_mode_line),
        adam_t_default=t.int("adam_t_default", d.adam_t_default),
        twolayer_hidden_arg=t.str("twolayer_hidden_arg", d.twolayer_hidden_arg),
        state_keys={k: state.str(k, k) for k in STATE_KEYS},
        names={k: names.str(k) for k in names.keys()},
        not_student_work=tuple(t.str_list("not_student_work", [])),
        compat=t.bool("compat", d.compat),
        flip_policy=t.choice("flip_policy", ("no_credit", "credit"), d.flip_policy),
    )
    known = known_names()
    for name in api.names:
        if name not in known:
            raise SpecError(t.path, names.key(name), f"is not a canonical name; known: {', '.join(sorted(known))}")
    for name in api.not_student_work:
        if name not in known:
            raise SpecError(t.path, t.key("not_student_work"), f"{name!r} is not a canonical name")
    return api


def _parse_tolerances(t: _Reader) -> dict[str, Tolerance]:
    t.only("float64", "float32")
    defaults = {"float64": Tolerance(1e-6, 1e-8), "float32": Tolerance(1e-4, 1e-5)}
    out = {}
    for dtype, default in defaults.items():
        sub = t.table(dtype, required=False)
        sub.only("rtol", "atol")
        out[dtype] = Tolerance(sub.num("rtol", default.rtol), sub.num("atol", default.atol))
    return out


def _parse_check(c: _Reader, part_ids: set[str]) -> Check:
    c.only("id", "part", "kind", "subject", "points", "visibility", "seed", "title", "shapes",
           "params", "rtol", "atol", "award", "value_check", "depends")
    check_id = c.str("id")
    part = c.str("part")
    if part not in part_ids:
        raise SpecError(c.path, c.key("part"), f"unknown part {part!r}; declared parts: {sorted(part_ids)}")
    shapes_t = c.table("shapes", required=False)
    shapes_t.only(*SHAPE_NAMES)
    shapes = {}
    for name in shapes_t.keys():
        dims = shapes_t.raw[name]
        if not isinstance(dims, list) or not all(isinstance(n, int) and n > 0 for n in dims):
            raise SpecError(c.path, shapes_t.key(name), "must be a list of positive integers")
        shapes[name] = tuple(dims)
    tolerance = None
    if "rtol" in c.raw or "atol" in c.raw:
        tolerance = Tolerance(c.num("rtol", 0.0), c.num("atol", 0.0))
    points = c.num("points", 1.0)
    if points < 0:
        raise SpecError(c.path, c.key("points"), "must not be negative")
    kind = c.choice("kind", CHECK_KINDS)
    award = c.choice("award", ("points", "with_value", "informative"), "points")
    value_check = c.str("value_check", "") or None
    if award == "with_value" and value_check is None:
        raise SpecError(c.path, c.key("value_check"), "award = 'with_value' needs the id of the value check")
    params = c.table("params", required=False)
    params.only(*CHECK_PARAMS[kind])
    _validate_params(params)
    seed = c.int("seed", 0)
    if not 0 <= seed < 2**32:
        raise SpecError(c.path, c.key("seed"), f"{seed} is not a valid seed (0 <= seed < 2**32)")
    return Check(
        id=check_id, part=part, kind=kind, subject=c.str("subject"), points=points,
        visibility=c.choice("visibility", VISIBILITIES, "visible"), seed=seed,
        title=c.str("title", check_id), shapes=shapes, params=dict(params.raw),
        tolerance=tolerance, award=award, value_check=value_check, depends=tuple(c.str_list("depends", [])),
    )


def _validate_params(p: _Reader) -> None:
    """Ranges of the params whose wrong values would silently test something else."""
    for name in ("keep", "dropout_keep"):
        if name not in p.raw:
            continue
        values = p.raw[name] if isinstance(p.raw[name], list) else [p.raw[name]]
        top = 1.0 if name == "dropout_keep" else 1.0 - 1e-12  # a net may run without dropout
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= top
                                 for v in values):
            raise SpecError(p.path, p.key(name), "must be keep probabilities in (0, 1)"
                            + (" or 1 (no dropout)" if name == "dropout_keep" else ""))
    for name in ("hidden_dims",):
        if name in p.raw and not (isinstance(p.raw[name], list) and p.raw[name]
                                  and all(isinstance(v, int) and v > 0 for v in p.raw[name])):
            raise SpecError(p.path, p.key(name), "must be a non-empty list of positive integers")
    for name in ("input_dim", "num_classes", "hidden_dim", "num_inputs", "warmup", "num_epochs",
                 "batch_size", "num_train", "num_val", "image_size", "t"):
        if name in p.raw and not (isinstance(p.raw[name], int) and not isinstance(p.raw[name], bool)
                                  and p.raw[name] >= (0 if name in ("warmup", "t") else 1)):
            raise SpecError(p.path, p.key(name), "must be a positive integer")
    if "normalization" in p.raw and p.raw["normalization"] not in ("batchnorm", "layernorm", ""):
        raise SpecError(p.path, p.key("normalization"), "must be 'batchnorm' or 'layernorm'")
    if "dtype" in p.raw and p.raw["dtype"] not in ("float32", "float64"):
        raise SpecError(p.path, p.key("dtype"), "must be 'float32' or 'float64'")
    if "mode" in p.raw and p.raw["mode"] not in ("train", "test"):
        raise SpecError(p.path, p.key("mode"), "must be 'train' or 'test'")


def _validate_checks(checks: tuple[Check, ...], student: Mapping[str, str], path: Path) -> None:
    from grader.subjects import SUBJECTS  # the registry of what each kind can check

    seen: set[str] = set()
    for i, check in enumerate(checks):
        key = f"checks[{i}]"
        if check.id in seen:
            raise SpecError(path, f"{key}.id", f"duplicate check id {check.id!r}")
        seen.add(check.id)
        subjects = SUBJECTS.get(check.kind, {})
        if check.subject not in subjects:
            raise SpecError(path, f"{key}.subject", f"{check.kind} checks cannot test {check.subject!r}; known: {sorted(subjects)}")
        module = SUBJECT_MODULES.get(check.subject, "layers")
        if module not in student:
            raise SpecError(path, f"{key}.subject", f"{check.subject!r} lives in module {module!r}, which layout.student does not declare")
    by_id = {c.id: c for c in checks}
    for i, check in enumerate(checks):
        for j, dep in enumerate(check.depends):
            if dep not in by_id or dep == check.id:
                what = "itself" if dep == check.id else f"unknown check {dep!r}"
                raise SpecError(path, f"checks[{i}].depends[{j}]", f"refers to {what}")
        if check.value_check is not None:
            target = by_id.get(check.value_check)
            if target is None or target is check or target.kind != "value":
                raise SpecError(path, f"checks[{i}].value_check",
                                f"{check.value_check!r} is not the id of another check of kind 'value'")


def known_names() -> set[str]:
    """Every canonical function or class name a spec may refer to (``names``, ``not_student_work``)."""
    from grader.subjects import SUBJECTS

    return {s for subjects in SUBJECTS.values() for s in subjects} | set(SUBJECT_MODULES)


class _Reader:
    """Typed access to a TOML table that reports the file and dotted key on every error."""

    def __init__(self, raw: Any, path: Path, prefix: str) -> None:
        if not isinstance(raw, dict):
            raise SpecError(path, prefix, "must be a table")
        self.raw = raw
        self.path = path
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def keys(self) -> list[str]:
        return list(self.raw)

    def only(self, *allowed: str) -> None:
        for k in self.raw:
            if k not in allowed:
                raise SpecError(self.path, self.key(k), f"unknown key; allowed here: {', '.join(allowed)}")

    def _get(self, name: str, types: tuple[type, ...], default: Any, what: str) -> Any:
        if name not in self.raw:
            if default is _REQUIRED:
                raise SpecError(self.path, self.key(name), "is required")
            return default
        value = self.raw[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise SpecError(self.path, self.key(name), f"must be {what}, not {type(value).__name__}")
        return value

    def str(self, name: str, default: Any = None) -> Any:
        return self._get(name, (str,), _REQUIRED if default is None else default, "a string")

    def int(self, name: str, default: Any = None) -> Any:
        return self._get(name, (int,), _REQUIRED if default is None else default, "an integer")

    def num(self, name: str, default: Any = None) -> float:
        return float(self._get(name, (int, float), _REQUIRED if default is None else default, "a number"))

    def bool(self, name: str, default: bool) -> bool:
        return bool(self._get(name, (bool,), default, "true or false"))

    def choice(self, name: str, options: tuple[str, ...], default: Any = None) -> Any:
        value = self.str(name, default)
        if value not in options:
            raise SpecError(self.path, self.key(name), f"{value!r} is not one of {list(options)}")
        return value

    def str_list(self, name: str, default: list[str]) -> list[Any]:
        value = self._get(name, (list,), default, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise SpecError(self.path, self.key(name), "must be a list of strings")
        return value

    def table(self, name: str, required: bool = True) -> _Reader:
        if name not in self.raw:
            if required:
                raise SpecError(self.path, self.key(name), "is required")
            return _Reader({}, self.path, self.key(name))
        return _Reader(self.raw[name], self.path, self.key(name))

    def array(self, name: str) -> list[_Reader]:
        value = self._get(name, (list,), _REQUIRED, "an array of tables")
        return [_Reader(v, self.path, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]


_REQUIRED = object()
