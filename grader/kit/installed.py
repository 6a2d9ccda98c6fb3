"""Whether this nngrader is a student kit, and the three things a kit changes.

A kit is nngrader installed with the package ``nngrader_kit`` beside it (``grader.kit.build``):
its oracle answers from the recorded tables instead of the reference, which the kit lacks; its
``check`` grades the kit's assignment unless told otherwise; and its sandbox request is ``best``
(bubblewrap where it works, else a child process), since a student's laptop may have no
bubblewrap. The full grader finds no ``nngrader_kit`` and changes nothing.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

from grader.checks.oracle import LiveOracle, Oracle
from grader.errors import GraderError
from grader.kit.files import MANIFEST_FORMAT

__all__ = ["default_assignment", "default_oracle", "default_sandbox", "kit_folder", "manifest"]


@cache
def kit_folder() -> Path | None:
    """The installed ``nngrader_kit`` package's folder, or None (the full grader)."""
    found = importlib.util.find_spec("nngrader_kit")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


@cache
def manifest() -> dict[str, Any] | None:
    """The kit's ``manifest.json`` (``grader.kit.files.KitInfo.manifest``), or None.

    Raises:
        GraderError: the kit is damaged.
    """
    folder = kit_folder()
    if folder is None:
        return None
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraderError(f"this nngrader kit is damaged ({folder}): {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise GraderError(f"{folder / 'manifest.json'} is not an {MANIFEST_FORMAT} manifest")
    return data


def default_oracle() -> Oracle:
    """The kit's recorded answers, or the live reference."""
    folder = kit_folder()
    if folder is None:
        return LiveOracle()
    from grader.kit.tables import TableOracle

    return TableOracle(folder)


def default_assignment() -> str | None:
    """The kit's assignment (``id`` or ``id@offering``), or None (detected from the files)."""
    found = manifest()
    return None if found is None else str(found["assignment"])


def default_sandbox() -> str:
    """``best`` in a kit, ``auto`` (bubblewrap or refuse) in the full grader."""
    return "auto" if kit_folder() is None else "best"
