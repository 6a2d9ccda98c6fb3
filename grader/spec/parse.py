"""Course specs: TOML files in ``assignments/`` parsed and validated into ``grader.spec.model``.

The format is documented for instructors in ``assignments/README.md``. Every problem is reported
as a ``SpecError`` naming the file, the key and what is wrong. ``SCHEMA_VERSION`` is the version
this code reads. Check kinds, their subjects and params come from the catalogue
(``grader.checks.catalog``, pure data); nothing here imports a check implementation.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]  # installed on 3.10 only

from grader.checks.catalog import KINDS, known_names, module_of
from grader.errors import SpecError
from grader.sandbox.limits import spec_keys
from grader.spec.final_accuracy import parse_final_accuracy
from grader.spec.model import STATE_KEYS, Api, Check, Part, Spec, Tolerance
from grader.spec.notebooks import parse_notebooks
from grader.spec.reader import Reader
from grader.spec.service import parse_service

__all__ = ["SCHEMA_VERSION", "load_spec", "parse_spec"]

SCHEMA_VERSION = 1
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
GIVEN_MODULES = ("solver", "gradient_check", "data")
STAND_INS = ("empty", "layer_utils")
"""What can stand in for a course module a submission lacks: an empty module (a CNN-part helper
such as ``fast_layers.py`` that graded code imports but never calls), or the starter's
``layer_utils`` composites over the student's own layers."""
LIMIT_KEYS = spec_keys()
"""``[limits]`` keys: the ``Limits`` field names."""
SHAPE_NAMES = ("x", "w", "b", "gamma", "beta", "dout", "dw", "running_mean")


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
    r = Reader(raw, path, "")
    version = r.integer("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecError(
            path,
            "schema_version",
            f"{version} is not supported (this nngrader reads {SCHEMA_VERSION})",
        )
    r.only("schema_version", "id", "title", "layout", "api", "tolerance", "parts", "checks",
           "final_accuracy", "offerings", "detect", "limits", "runtime", "notebooks",
           "instructor_points", "service")  # fmt: skip
    layout = r.table("layout")
    layout.only("student", "given", "stand_ins")
    student = {k: layout.table("student").text(k) for k in layout.table("student").keys()}
    for logical, rel in student.items():
        if not rel.endswith(".py") or rel.startswith("/") or ".." in rel.split("/"):
            raise SpecError(
                path, f"layout.student.{logical}", f"{rel!r} is not a relative .py path"
            )
    given_table = layout.table("given", required=False)
    given = {k: given_table.text(k) for k in given_table.keys()}
    for rel, module in given.items():
        if module not in GIVEN_MODULES:
            raise SpecError(
                path, f"layout.given.{rel}", f"{module!r} is not one of {list(GIVEN_MODULES)}"
            )
    stand_in_table = layout.table("stand_ins", required=False)
    stand_ins = {k: stand_in_table.choice(k, STAND_INS) for k in stand_in_table.keys()}
    for rel in stand_ins:
        if not rel.endswith(".py") or rel.startswith("/") or ".." in rel.split("/") or rel in given:
            raise SpecError(
                path,
                stand_in_table.key(rel),
                "must be a relative .py path that is not a given module",
            )
    api = _parse_api(r.table("api", required=False))
    tolerances = _parse_tolerances(r.table("tolerance", required=False))
    parts = tuple(Part(p.text("id"), p.text("title")) for p in r.array("parts"))
    part_ids = {p.id for p in parts}
    checks = tuple(_parse_check(c, part_ids) for c in r.array("checks"))
    _validate_checks(checks, student, path)
    final_accuracy = parse_final_accuracy(
        raw.get("final_accuracy"),
        path,
        parts=[p.id for p in parts],
        check_ids={c.id for c in checks},
        visibilities=VISIBILITIES,
    )
    offerings_table = r.table("offerings", required=False)
    offerings: dict[str, Mapping[str, Any]] = {}
    for name in offerings_table.keys():
        o = offerings_table.table(name)
        _parse_api(o)  # validates the override keys and values
        offerings[name] = dict(o.raw)
    if "default" in offerings:
        raise SpecError(path, "offerings.default", "'default' names the [api] itself")
    detect = _parse_detect(r.table("detect", required=False), student, offerings)
    limits_table = r.table("limits", required=False)
    limits_table.only(*LIMIT_KEYS)
    limits: dict[str, float] = {}
    for key in limits_table.keys():
        name, unit = LIMIT_KEYS[key]
        if limits_table.number(key) <= 0 or name in limits:
            raise SpecError(path, limits_table.key(key), f"must be positive, and {name} given once")
        limits[name] = limits_table.number(key) * unit
    instructor_points = r.number("instructor_points", 0.0)  # a kit's: its left-out checks
    if instructor_points < 0:
        raise SpecError(path, "instructor_points", "must not be negative")
    runtime = r.table("runtime", required=False)
    runtime.only("packages")
    packages = tuple(runtime.str_list("packages", []))
    for name in packages:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise SpecError(path, runtime.key("packages"), f"{name!r} is not a distribution name")
    return Spec(
        id=r.text("id"),
        title=r.text("title"),
        path=path,
        student_modules=student,
        given_modules=given,
        api=api,
        tolerances=tolerances,
        parts=parts,
        checks=checks,
        final_accuracy=final_accuracy,
        offerings=offerings,
        detect=detect,
        limits=limits,
        stand_ins=stand_ins,
        runtime=packages,
        notebooks=parse_notebooks(r.table("notebooks", required=False), parts),
        instructor_points=instructor_points,
        service=parse_service(r.table("service", required=False)),
    )


def _parse_detect(
    detect: Reader, student: Mapping[str, str], offerings: Mapping[str, Any]
) -> dict[str, Any]:
    """``[detect]``: packages, files, and per-module source signs (see ``grader.workspace``)."""
    detect.only("packages", "files", "patterns", "absent", "offerings")
    detect.str_list("packages", [])
    detect.str_list("files", [])

    def signs(table: Reader) -> None:
        for logical in table.keys():
            if logical not in student:
                raise SpecError(
                    table.path, table.key(logical), "is not a module declared in layout.student"
                )
            if not all(s.strip() for s in table.str_list(logical, [])):
                raise SpecError(table.path, table.key(logical), "must not hold an empty sign")

    for key in ("patterns", "absent"):
        signs(detect.table(key, required=False))
    by_offering = detect.table("offerings", required=False)
    for name in by_offering.keys():
        if name != "default" and name not in offerings:
            raise SpecError(
                by_offering.path,
                by_offering.key(name),
                f"is not 'default' or a declared offering ({sorted(offerings)})",
            )
        signs(by_offering.table(name))
    return dict(detect.raw)


def _parse_api(t: Reader) -> Api:
    d = Api()
    t.only(*Api.__dataclass_fields__)
    state = t.table("state_keys", required=False)
    state.only(*STATE_KEYS)
    names = t.table("names", required=False)
    api = Api(
        dropout_p=t.choice("dropout_p", ("keep", "drop"), d.dropout_p),
        fc_dropout_arg=t.text("fc_dropout_arg", d.fc_dropout_arg),
        fc_dropout_off=t.number("fc_dropout_off", d.fc_dropout_off),
        fc_normalization=t.choice(
            "fc_normalization", ("normalization", "use_batchnorm"), d.fc_normalization
        ),
        bn_mode_line=t.choice("bn_mode_line", ("fixed", "starter", "either"), d.bn_mode_line),
        adam_t_default=t.integer("adam_t_default", d.adam_t_default),
        twolayer_hidden_arg=t.text("twolayer_hidden_arg", d.twolayer_hidden_arg),
        state_keys={k: state.text(k, k) for k in STATE_KEYS},
        names={k: names.text(k) for k in names.keys()},
        not_student_work=tuple(t.str_list("not_student_work", [])),
        compat=t.flag("compat", d.compat),
        flip_policy=t.choice("flip_policy", ("no_credit", "credit"), d.flip_policy),
    )
    known = known_names()
    for name in api.names:
        if name not in known:
            raise SpecError(
                t.path,
                names.key(name),
                f"is not a canonical name; known: {', '.join(sorted(known))}",
            )
    for name in api.not_student_work:
        if name not in known:
            raise SpecError(t.path, t.key("not_student_work"), f"{name!r} is not a canonical name")
    return api


def _parse_tolerances(t: Reader) -> dict[str, Tolerance]:
    t.only("float64", "float32")
    defaults = {"float64": Tolerance(1e-6, 1e-8), "float32": Tolerance(1e-4, 1e-5)}
    out = {}
    for dtype, default in defaults.items():
        sub = t.table(dtype, required=False)
        sub.only("rtol", "atol")
        out[dtype] = Tolerance(sub.number("rtol", default.rtol), sub.number("atol", default.atol))
    return out


def _parse_check(c: Reader, part_ids: set[str]) -> Check:
    c.only(
        "id",
        "part",
        "kind",
        "subject",
        "points",
        "visibility",
        "seed",
        "title",
        "shapes",
        "params",
        "rtol",
        "atol",
        "award",
        "value_check",
        "depends",
    )
    check_id = c.text("id")
    part = c.text("part")
    if part not in part_ids:
        raise SpecError(
            c.path, c.key("part"), f"unknown part {part!r}; declared parts: {sorted(part_ids)}"
        )
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
        tolerance = Tolerance(c.number("rtol", 0.0), c.number("atol", 0.0))
    points = c.number("points", 1.0)
    if points < 0:
        raise SpecError(c.path, c.key("points"), "must not be negative")
    kind = c.choice("kind", tuple(KINDS))
    award = c.choice("award", ("points", "with_value", "informative"), "points")
    value_check = c.text("value_check", "") or None
    if award == "with_value" and value_check is None:
        raise SpecError(
            c.path, c.key("value_check"), "award = 'with_value' needs the id of the value check"
        )
    params = c.table("params", required=False)
    params.only(*KINDS[kind].params)
    _validate_params(params)
    seed = c.integer("seed", 0)
    if not 0 <= seed < 2**32:
        raise SpecError(c.path, c.key("seed"), f"{seed} is not a valid seed (0 <= seed < 2**32)")
    return Check(
        id=check_id,
        part=part,
        kind=kind,
        subject=c.text("subject"),
        points=points,
        visibility=c.choice("visibility", VISIBILITIES, "visible"),
        seed=seed,
        title=c.text("title", check_id),
        shapes=shapes,
        params=dict(params.raw),
        tolerance=tolerance,
        award=award,
        value_check=value_check,
        depends=tuple(c.str_list("depends", [])),
    )


def _validate_params(p: Reader) -> None:
    """Ranges of the params whose wrong values would silently test something else."""
    for name in ("keep", "dropout_keep"):
        if name not in p.raw:
            continue
        values = p.raw[name] if isinstance(p.raw[name], list) else [p.raw[name]]
        top = 1.0 if name == "dropout_keep" else 1.0 - 1e-12  # a net may run without dropout
        if not values or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= top for v in values
        ):
            raise SpecError(
                p.path,
                p.key(name),
                "must be keep probabilities in (0, 1)"
                + (" or 1 (no dropout)" if name == "dropout_keep" else ""),
            )
    for name in ("hidden_dims",):
        if name in p.raw and not (
            isinstance(p.raw[name], list)
            and p.raw[name]
            and all(isinstance(v, int) and v > 0 for v in p.raw[name])
        ):
            raise SpecError(p.path, p.key(name), "must be a non-empty list of positive integers")
    for name in (
        "input_dim",
        "num_classes",
        "hidden_dim",
        "num_inputs",
        "warmup",
        "num_epochs",
        "batch_size",
        "num_train",
        "num_val",
        "image_size",
        "t",
    ):
        if name in p.raw and not (
            isinstance(p.raw[name], int)
            and not isinstance(p.raw[name], bool)
            and p.raw[name] >= (0 if name in ("warmup", "t") else 1)
        ):
            raise SpecError(p.path, p.key(name), "must be a positive integer")
    if "normalization" in p.raw and p.raw["normalization"] not in ("batchnorm", "layernorm", ""):
        raise SpecError(p.path, p.key("normalization"), "must be 'batchnorm' or 'layernorm'")
    if "dtype" in p.raw and p.raw["dtype"] not in ("float32", "float64"):
        raise SpecError(p.path, p.key("dtype"), "must be 'float32' or 'float64'")
    if "mode" in p.raw and p.raw["mode"] not in ("train", "test"):
        raise SpecError(p.path, p.key("mode"), "must be 'train' or 'test'")


def _validate_checks(checks: tuple[Check, ...], student: Mapping[str, str], path: Path) -> None:
    seen: set[str] = set()
    for i, check in enumerate(checks):
        key = f"checks[{i}]"
        if check.id in seen:
            raise SpecError(path, f"{key}.id", f"duplicate check id {check.id!r}")
        seen.add(check.id)
        subjects = KINDS[check.kind].subjects
        if check.subject not in subjects:
            raise SpecError(
                path,
                f"{key}.subject",
                f"{check.kind} checks cannot test {check.subject!r}; known: {sorted(subjects)}",
            )
        module = module_of(check.subject)
        if module not in student:
            raise SpecError(
                path,
                f"{key}.subject",
                f"{check.subject!r} lives in module {module!r}, which layout.student does not "
                "declare",
            )
    by_id = {c.id: c for c in checks}
    for i, check in enumerate(checks):
        for j, dep in enumerate(check.depends):
            if dep not in by_id or dep == check.id:
                what = "itself" if dep == check.id else f"unknown check {dep!r}"
                raise SpecError(path, f"checks[{i}].depends[{j}]", f"refers to {what}")
        if check.value_check is not None:
            target = by_id.get(check.value_check)
            if target is None or target is check or target.kind != "value":
                raise SpecError(
                    path,
                    f"checks[{i}].value_check",
                    f"{check.value_check!r} is not the id of another check of kind 'value'",
                )
