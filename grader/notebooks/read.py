"""One notebook file, read with nbformat and validated: a ``Notebook`` or a ``NotebookProblem``.

The file is the student's: it may be huge, not JSON, not a notebook, an old or future nbformat,
or a notebook that a validator rejects. Every such case becomes a problem or a note naming the
file and what is wrong, never an exception. nbformat 3 is upgraded to 4; nbformat 4.5 requires
cell ids, and cells without one (or sharing one) get ids here, deterministically, before nbformat
sees them (nbformat would add random ids with a ``MissingIDFieldWarning``). Warnings nbformat
still raises are recorded as notes, where they arise. Nothing is executed.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import ValidationError

from grader import sanitize

__all__ = ["Cell", "Notebook", "NotebookProblem", "read_bounded", "read_notebook"]

READ_VERSION = 4
UPGRADED = (3,)
"""Older major versions nbformat upgrades to 4 for us."""
_MESSAGE_CHARS = 200
# nbformat has no type hints: the two functions used here, typed.
_from_dict: Callable[[Any], Any] = nbformat.from_dict
_convert: Callable[[Any, int], dict[str, Any]] = nbformat.convert
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Cell:
    """One cell, as the facts about a notebook need it."""

    kind: str
    """``code``, ``markdown`` or ``raw``."""
    source: str
    ran: bool = False
    """A code cell with an execution count or outputs: the saved notebook shows it was run."""
    error: bool = False
    """A code cell whose saved outputs hold an error (a traceback)."""
    output: str = ""
    """The text of its saved outputs: streams, ``text/plain`` results, errors' name and value."""


@dataclass(frozen=True)
class Notebook:
    """A notebook that could be read (perhaps with notes: upgraded, ids added, not valid)."""

    path: str
    """Relative to the submission's root, with ``/``."""
    cells: tuple[Cell, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotebookProblem:
    """A notebook that could not be read, and why (one sentence naming the file)."""

    path: str
    message: str


def _short(text: str) -> str:
    text = sanitize.text(" ".join(text.split()))
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it is over ``limit`` (never reads more than that)."""
    with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError("not a regular file")
        data = f.read(limit + 1)
    return None if len(data) > limit else data


def _text(value: Any) -> str:
    """nbformat's multiline strings: a string, or a list of strings."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _output_text(output: Any) -> str:
    if not isinstance(output, dict):
        return ""
    kind = output.get("output_type")
    if kind == "stream":
        return _text(output.get("text"))
    if kind == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}\n"
    data = output.get("data")
    return _text(data.get("text/plain")) + "\n" if isinstance(data, dict) else ""


def _cell(raw: Any) -> Cell:
    if not isinstance(raw, dict):
        return Cell("raw", "")
    kind = raw.get("cell_type")
    source = _text(raw.get("source"))
    if kind != "code":
        return Cell(kind if kind in ("markdown", "raw") else "raw", source)
    outputs: list[Any] = raw["outputs"] if isinstance(raw.get("outputs"), list) else []
    return Cell(
        "code",
        source,
        ran=raw.get("execution_count") is not None or bool(outputs),
        error=any(isinstance(o, dict) and o.get("output_type") == "error" for o in outputs),
        output="".join(_output_text(o) for o in outputs),
    )


def _add_ids(raw: dict[str, Any]) -> int:
    """Give every cell of a 4.5+ notebook a unique id; how many cells needed one."""
    listed = raw.get("cells")
    cells = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    seen: set[str] = set()
    fixed = 0
    for i, cell in enumerate(cells):
        cid = cell.get("id")
        if isinstance(cid, str) and cid and cid not in seen:
            seen.add(cid)
            continue
        new = f"nngrader-{i}"
        while new in seen:
            new += "x"
        cell["id"] = new
        seen.add(new)
        fixed += 1
    return fixed


def _upgrade(raw: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    """nbformat 4 content of ``raw`` (upgraded from 3), with ids; notes on what was done."""
    notes: list[str] = []
    if raw["nbformat"] in UPGRADED:
        raw = _convert(_from_dict(raw), READ_VERSION)
        notes.append(f"{name} is nbformat {UPGRADED[0]}; it was upgraded to nbformat 4 to be read")
    minor = raw.get("nbformat_minor")
    if isinstance(minor, int) and minor >= 5:
        fixed = _add_ids(raw)
        if fixed:
            notes.append(
                f"{name}: {fixed} cell(s) had no id or a repeated one (nbformat 4.5 requires "
                "unique ids); ids were added to read it"
            )
    return raw, notes


def read_notebook(path: Path, rel: str, max_bytes: int) -> Notebook | NotebookProblem:
    """Read and validate the notebook at ``path`` (``rel``: its path in the submission)."""
    name = sanitize.text(rel)
    try:
        data = read_bounded(path, max_bytes)
    except OSError as exc:
        return NotebookProblem(rel, f"{name} could not be read ({_short(exc.strerror or '')})")
    if data is None:
        return NotebookProblem(
            rel, f"{name} is larger than {max_bytes / 2**20:g} MiB, the notebook limit; not read"
        )
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return NotebookProblem(rel, f"{name} is not UTF-8 text, so not a notebook")
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return NotebookProblem(rel, f"{name} is not valid JSON ({where}: {_short(exc.msg)})")
    except RecursionError:
        return NotebookProblem(rel, f"{name} is not valid JSON (nested too deeply)")
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        return NotebookProblem(rel, f"{name} is JSON but not a notebook (no nbformat version)")
    version = raw["nbformat"]
    if version != READ_VERSION and version not in UPGRADED:
        return NotebookProblem(
            rel,
            f"{name} is nbformat {version}, which is not supported (nbformat 4 is read, 3 is "
            "upgraded): save it again with a current Jupyter",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw, notes = _upgrade(raw, name)
        except Exception as exc:  # nbformat's converters assume a well-formed v3 notebook
            return NotebookProblem(
                rel, f"{name} could not be upgraded from nbformat 3 ({_short(repr(exc))})"
            )
        try:
            nbformat.validate(_from_dict(raw))
        except ValidationError as exc:
            message = _short(str(getattr(exc, "message", exc)))
            notes.append(f"{name} does not validate as nbformat 4 ({message}); read as it is")
    notes.extend(f"{name}: {_short(str(w.message))}" for w in caught)
    if not isinstance(raw.get("cells"), list):
        return NotebookProblem(rel, f"{name} has no list of cells")
    return Notebook(rel, tuple(_cell(c) for c in raw["cells"]), tuple(notes))
