"""``[final_accuracy]`` (one rule) or ``[[final_accuracy]]`` (several): the trained model's grade.

Documented for instructors in ``assignments/README.md``; every problem is a ``SpecError`` naming
the file and the key.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from grader.errors import SpecError
from grader.spec.model import FinalAccuracy
from grader.spec.reader import Reader

__all__ = ["SOURCES", "SPLITS", "parse_final_accuracy"]

SOURCES = ("npz", "course-npy", "notebook")
SPLITS = ("val", "test")
_KEYS = (
    "lower", "upper", "points", "split", "id", "title", "part", "visibility",
    "sources", "model_file", "course_files", "subtract_mean",
)  # fmt: skip


def parse_final_accuracy(
    raw: Any,
    path: Path,
    *,
    parts: list[str],
    check_ids: Collection[str],
    visibilities: tuple[str, ...],
) -> tuple[FinalAccuracy, ...]:
    """The rules of a spec's ``final_accuracy`` value (absent: none).

    Args:
        raw: the TOML value: a table, an array of tables, or None.
        parts: the spec's part ids in order (a rule's default part is the last).
        check_ids: ids a rule's id must not repeat.
    """
    if raw is None:
        return ()
    tables = raw if isinstance(raw, list) else [raw]
    rules: list[FinalAccuracy] = []
    for i, table in enumerate(tables):
        where = "final_accuracy" if not isinstance(raw, list) else f"final_accuracy[{i}]"
        if not isinstance(table, dict):
            raise SpecError(path, where, "must be a table")
        rule = _rule(Reader(table, path, where), parts, visibilities, default_id=_default_id(i))
        if rule.id in check_ids or rule.id in {r.id for r in rules}:
            raise SpecError(path, f"{where}.id", f"{rule.id!r} is already a check's or rule's id")
        rules.append(rule)
    return tuple(rules)


def _default_id(i: int) -> str:
    return "final_accuracy" if i == 0 else f"final_accuracy_{i + 1}"


def _rule(
    r: Reader, parts: list[str], visibilities: tuple[str, ...], *, default_id: str
) -> FinalAccuracy:
    r.only(*_KEYS)
    part = r.text("part", parts[-1] if parts else "")
    if part not in parts:
        raise SpecError(r.path, r.key("part"), f"unknown part {part!r}; declared parts: {parts}")
    sources = tuple(r.str_list("sources", ["npz", "notebook"]))
    for source in sources:
        if source not in SOURCES or sources.count(source) > 1:
            raise SpecError(r.path, r.key("sources"), f"{source!r}: each of {list(SOURCES)} once")
    course_files = tuple(r.str_list("course_files", []))
    if ("course-npy" in sources) != bool(course_files):
        raise SpecError(
            r.path, r.key("course_files"), "is required with source 'course-npy', and only then"
        )
    for name in (*course_files, r.text("model_file", "best_model.npz")):
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise SpecError(r.path, r.key("model_file"), f"{name!r} must be a plain file name")
    rule = FinalAccuracy(
        lower=r.number("lower"),
        upper=r.number("upper"),
        points=r.number("points"),
        split=r.choice("split", SPLITS, "val"),
        id=r.text("id", default_id),
        title=r.text("title", "final model accuracy (measured)"),
        part=part,
        visibility=r.choice("visibility", visibilities, "visible"),
        sources=sources,
        model_file=r.text("model_file", "best_model.npz"),
        course_files=course_files,
        subtract_mean=r.flag("subtract_mean", True),
    )
    if rule.upper < rule.lower:
        raise SpecError(r.path, r.key("upper"), "must not be below lower (equal: a threshold)")
    if rule.points < 0 or not 0 <= rule.lower <= 100 or rule.upper > 100:
        raise SpecError(r.path, r.key("points"), "points >= 0 and 0 <= lower <= upper <= 100")
    return rule
