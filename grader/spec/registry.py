"""The bundled course specs (``assignments/*.toml``), by id, and lookup of ``id@offering``."""

from __future__ import annotations

import os

from assignments import spec_dir
from grader.errors import GraderError
from grader.spec.model import Spec
from grader.spec.parse import load_spec

__all__ = ["available_specs", "get_spec"]


def available_specs() -> dict[str, Spec]:
    """Every bundled course spec, by id."""
    specs = {}
    for path in sorted(spec_dir().glob("*.toml")):
        spec = load_spec(path)
        specs[spec.id] = spec
    return specs


def get_spec(assignment: str) -> Spec:
    """A bundled spec by id (optionally ``id@offering``), or a spec file path."""
    if assignment.endswith(".toml") or os.sep in assignment:
        return load_spec(assignment)
    name, _, offering = assignment.partition("@")
    specs = available_specs()
    if name not in specs:
        raise GraderError(f"unknown assignment {name!r}; available: {', '.join(sorted(specs))}")
    return specs[name].for_offering(offering or None)
