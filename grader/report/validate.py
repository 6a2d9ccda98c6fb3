"""Checking written documents against the schemas kept in ``grader/report/schemas/``.

The render stage validates each ``results.json`` and ``instructor.json`` it writes when
``NNGRADER_VALIDATE_OUTPUT`` is set (the test suite sets it, so every file any test writes is
checked, in-process or in a child ``nngrader``); a document that does not conform is a grader
bug, raised as ``ValueError`` before the file is written. jsonschema is needed only then (the
``test`` extra installs it).
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from typing import Any

__all__ = ["VALIDATE_ENV", "schema", "validate", "wanted"]

VALIDATE_ENV = "NNGRADER_VALIDATE_OUTPUT"


def wanted() -> bool:
    """Whether written documents are to be validated (``$NNGRADER_VALIDATE_OUTPUT`` set)."""
    return bool(os.environ.get(VALIDATE_ENV))


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The JSON schema ``grader/report/schemas/<name>.schema.json``."""
    text = (resources.files("grader.report") / "schemas" / f"{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(name: str, doc: Any) -> None:
    """Raise ``ValueError`` naming the first problem when ``doc`` does not conform to ``name``'s
    schema (``results`` or ``instructor``)."""
    import jsonschema  # type: ignore[import-untyped]  # the test extra; no stubs shipped

    validator = jsonschema.Draft202012Validator(schema(name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"{name}.json does not conform to its schema at {where}: {error.message}")
