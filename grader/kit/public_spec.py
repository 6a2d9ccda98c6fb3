"""The spec a kit ships: the course's TOML with its public checks only.

A student kit must not carry what the instructor keeps back: the checks that are not
``visible`` (their inputs, shapes and seeds are part of what is hidden) and the accuracy rules,
which need a reference forward pass the kit does not have. They are left out of the TOML, and
what they are worth goes into ``instructor_points``, so that the kit can say how many more
points the instructor grades. The TOML is written with ``tomli_w`` from the course file as
``tomllib`` reads it: everything else (layout, api, offerings, detection, limits) is unchanged,
and the result is parsed back through the ordinary spec reader before it is shipped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomli_w

from grader.errors import GraderError
from grader.spec import Spec, load_spec

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]  # installed on 3.10 only

__all__ = ["public_toml", "read_toml", "write_public_spec"]


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document ``path`` holds."""
    document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return document


def public_toml(spec: Spec) -> dict[str, Any]:
    """``spec``'s TOML document restricted to its public checks (``spec`` is the course spec with
    the kit's offering applied: its ``withheld_points`` count that offering's student work)."""
    raw = read_toml(spec.path)
    kept = [c for c in raw.get("checks", []) if c.get("visibility", "visible") == "visible"]
    ids = {c["id"] for c in kept}
    for check in kept:
        if "depends" in check:
            check["depends"] = [d for d in check["depends"] if d in ids]
    raw["checks"] = kept
    raw.pop("final_accuracy", None)
    raw["instructor_points"] = float(spec.kit_withheld_points())
    return raw


def write_public_spec(spec: Spec, folder: Path) -> Path:
    """Write ``public_toml(spec)`` as ``folder/<id>.toml`` and check that it reads back as a
    spec with exactly ``spec``'s public checks.

    Raises:
        GraderError: the written spec does not read back as that (a bug of ours, never
            shipped).
    """
    path = folder / f"{spec.id}.toml"
    path.write_text(tomli_w.dumps(public_toml(spec)), encoding="utf-8")
    back = load_spec(path)
    wanted = [c.id for c in spec.checks if c.visibility == "visible"]
    if [c.id for c in back.checks] != wanted:
        raise GraderError(f"{path}: the public spec lost or gained checks")
    return path
