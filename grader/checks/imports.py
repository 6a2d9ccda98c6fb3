"""Why a module does not import: the failing frame, its file and line, and whose file it is.

The child's traceback is its own account (``compile(src, '<any text>', 'exec')`` names any file
and line), so a frame is believed only where it names a real file of the staged workspace and a
line that file has; the offending line is read by the grading process from that file. A syntax
error the grading process finds itself, by compiling the file (which runs nothing), is worded
from its own compiler: no text of the child, so it may be said even where a check is hidden.

A failure whose frame lies in a given course file (a trusted copy or a stand-in the grader
wrote, ``Staged.given``) is said to be the course file's, never the student's.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from grader import sanitize
from grader.errors import StudentRaised
from grader.results import ModuleProblem

__all__ = ["blocked_message", "describe", "innermost", "module_problem", "where"]

_FRAME = re.compile(r'\s*File "(?P<path>.+)", line (?P<line>\d{1,9})(?:, in .*)?')
_LOCATION = re.compile(r"\s*\([^()\n]*, line \d{1,9}\)\Z")
"""The ``(file.py, line N)`` a SyntaxError's message ends with: said once, by the host."""
_MAX_PATH = 4096
_MAX_CODE = 160
_SYNTAX = frozenset({"SyntaxError", "IndentationError", "TabError"})


def innermost(traceback: str, workspace: Path) -> tuple[Path, int] | None:
    """The innermost frame of ``traceback`` that names a real file of ``workspace`` and a line
    that file has, or None."""
    roots = {str(workspace).rstrip("/") + "/", str(workspace.resolve()).rstrip("/") + "/"}
    for line in reversed(traceback.splitlines()):
        frame = _FRAME.fullmatch(line)
        if frame is None:
            continue
        path, number = frame["path"], int(frame["line"])
        if not _in_workspace(path, roots):
            continue
        lines = _lines(Path(path))
        if lines is not None and 1 <= number <= len(lines):
            return Path(path), number
    return None


def where(exc: StudentRaised, workspace: Path) -> str:
    """`` (file.py, line N)`` of ``innermost``, or ``""``."""
    found = innermost(exc.traceback, workspace)
    return f" ({found[0].name}, line {found[1]})" if found else ""


def module_problem(
    module: str,
    exc: StudentRaised,
    workspace: Path,
    *,
    given: Collection[str],
    trusted_text: bool,
) -> ModuleProblem | None:
    """The module problem of an import of ``module`` (a course path) that raised ``exc``.

    ``trusted_text``: the child's message may be shown (the import ran before any hidden input
    entered the child). Otherwise only a syntax error the host's own compiler confirms is
    described, and None is returned for anything else.
    """
    found = innermost(exc.traceback, workspace)
    rel = _relative(found[0], workspace) if found else ""
    line = found[1] if found else None
    compiled = _syntax_error(found[0], rel) if found and exc.type in _SYNTAX else None
    if compiled is not None and compiled.lineno is not None:
        summary = f"{type(compiled).__name__}: {compiled.msg}"
        line = compiled.lineno
    elif trusted_text:
        detail = _LOCATION.sub("", exc.detail) if exc.type in _SYNTAX else exc.detail
        summary = f"{exc.type}: {detail}" if detail else exc.type
    else:
        return None
    code = _code(found[0], line) if found and line else ""
    return ModuleProblem(
        module=module, summary=summary, file=rel, line=line, code=code, given=rel in given
    )


def blocked_message(problem: ModuleProblem) -> str:
    """What a check that needs the module says: blocked, and where to look."""
    if problem.given:
        return (
            f"blocked: `{problem.module}` does not import because the given course file "
            f"`{problem.file}` (not graded) fails (see above)"
        )
    return f"blocked: `{problem.module}` does not import (see above)"


def describe(problem: ModuleProblem) -> str:
    """The problem as said once for the submission: file, line, the offending line."""
    at = ""
    if problem.file:
        at = f" in `{problem.file}`" + (f", line {problem.line}" if problem.line else "")
        at += f": `{problem.code}`" if problem.code else ""
    if problem.given:
        return (
            f"`{problem.module}` does not import: the given course file `{problem.file}` "
            f"fails ({problem.summary}{at}). It is a course file, not graded and not your "
            "mistake; the checks that need it could not run."
        )
    return f"`{problem.module}` does not import: {problem.summary}{at}"


def _relative(path: Path, workspace: Path) -> str:
    for root in (workspace, workspace.resolve()):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


def _syntax_error(path: Path, rel: str) -> SyntaxError | None:
    """The syntax error the host's compiler finds in ``path`` (nothing is run), or None."""
    data = _read(path)
    if data is None:
        return None
    try:
        compile(data, rel, "exec", dont_inherit=True)
    except SyntaxError as err:
        return err
    except (ValueError, TypeError):  # null bytes and the like: not a syntax error to explain
        return None
    return None


def _code(path: Path, number: int) -> str:
    lines = _lines(path)
    if lines is None or not 1 <= number <= len(lines):
        return ""
    text = sanitize.text(lines[number - 1].decode("utf-8", "replace").strip())
    return text if len(text) <= _MAX_CODE else text[: _MAX_CODE - 1] + "…"


def _in_workspace(path: str, roots: set[str]) -> bool:
    """Whether ``path`` names something below a workspace root without leaving it."""
    return (
        len(path) <= _MAX_PATH
        and any(path.startswith(root) for root in roots)
        and ".." not in Path(path).parts
    )


def _read(path: Path) -> bytes | None:
    """The bytes of the regular (non-link) file ``path``, or None when there is no such file."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_bytes()
    except OSError:
        return None


def _lines(path: Path) -> list[bytes] | None:
    data = _read(path)
    return None if data is None else data.splitlines()
