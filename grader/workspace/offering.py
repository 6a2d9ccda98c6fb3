"""Which offering of a course a submission's starter is, read from the starter's own text.

Offerings of one course can differ in a convention the starter states (UCLA C147: whether
dropout's ``p`` keeps or drops, variants.md §5 and ``assignments/ucla-c147-2022.toml``). A spec's
``[detect.offerings]`` lists, per offering (``default`` = the spec's ``[api]``), the signs its
starter's files contain: logical module -> substrings, compared with all whitespace removed so
that a student's reformatting does not hide them.

A sign found in a module rules out every offering that does not list it for that module; what
remains decides. One offering left: it is chosen. None or several: the course default is used and
a note names the signs found and how to choose an offering by hand — the grader does not guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.spec import Spec

__all__ = ["Choice", "choose"]

DEFAULT = "default"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Choice:
    """The offering picked from the starter's text."""

    offering: str | None
    """The offering's name, or None for the course default."""
    evidence: str
    """The signs that decided, or '' when the spec lists none."""
    note: str | None = None
    """Set when the text did not decide: what was found and how to pass ``id@offering``."""


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def choose(spec: Spec, files: Mapping[str, Path], read: Callable[[Path], str]) -> Choice:
    """The offering of ``spec`` whose signs the discovered ``files`` carry."""
    table: Mapping[str, Mapping[str, list[str]]] = spec.detect.get("offerings", {})
    if not table:
        return Choice(None, "")
    texts = {m: _squash(read(p)) for m, p in files.items()}
    found: dict[str, set[str]] = {}  # logical module -> signs found (as written in the spec)
    for signs in table.values():
        for logical, wanted in signs.items():
            hits = {s for s in wanted if _squash(s) in texts.get(logical, "")}
            found.setdefault(logical, set()).update(hits)
    left = [
        name
        for name, signs in table.items()
        if all(hits <= set(signs.get(logical, [])) for logical, hits in found.items() if hits)
    ]
    seen = "; ".join(f"{m} has {s!r}" for m in sorted(found) for s in sorted(found[m]))
    if len(left) == 1 and seen:
        name = left[0]
        return Choice(None if name == DEFAULT else name, f"offering {name}: {seen}")
    others = ", ".join(f"{spec.id}@{n}" for n in table if n != DEFAULT)
    why = (
        f"the signs found ({seen}) fit {' and '.join(left)} equally"
        if len(left) > 1 and seen
        else f"the signs found ({seen}) contradict each other"
        if seen
        else "none of the offerings' signs is in the files"
    )
    note = (
        f"offering not decided by the starter's text: {why}; graded under the course default "
        f"({spec.id}); if the student's starter is another offering, grade with "
        f"--assignment {others}"
    )
    return Choice(None, "offering: course default (undecided)", note)
