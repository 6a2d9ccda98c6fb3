"""GitHub Actions workflow commands for one checked submission (``nngrader check --format github``).

A step's output lines that are workflow commands become annotations on the run's page and beside
the file's line in a pull request
(https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions):

* ``::error file=<path>,line=<n>,title=<check title>::<message>`` per failing, erroring or
  timed-out check that counts (is worth points), pointing at the student's code: the line of the
  exception or of the import problem when the grader located one
  (``grader.report.junit.location``), else the ``def``/``class`` line of the function the check is
  about (``function_locations``);
* ``::warning`` the same for an informative check (or one worth no points): it never fails
  ``nngrader check``, so it is no error either;
* ``::notice::<note>`` per note of the result (isolation off, stand-ins, points graded by the
  instructor);
* then one plain line: the points shown, and the points withheld.

Paths are the submission's own (``extra["files"]``), relative to the checked folder: run
``nngrader check`` on the repository's root, and GitHub maps them to the repository's files.

What is shown is the student view before release (``grader.report.student_view``), as in the
other CI reports: a check the student may not see yet appears only as withheld points. Text goes
through ``grader.sanitize`` and then GitHub's escaping (``escape_data``: ``%``, CR and LF in the
message; ``escape_property``: also ``:`` and ``,`` in a property), so nothing a student wrote
ends the command's line: no message can start a line of its own (``\\n::error ...``) and forge a
command.
"""

# No ``from __future__ import annotations``: this module's main function has that name (the
# annotations here need no postponing on Python 3.10).
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from grader import sanitize
from grader.errors import GraderError
from grader.report.junit import Location, details, graded_files, location
from grader.report.student_view import StudentCheck, StudentView, Withheld, student_view
from grader.results import SubmissionResult
from grader.spec import Spec
from grader.spec.registry import get_spec

__all__ = [
    "MESSAGE_CHARS",
    "SOURCE_BYTES",
    "annotations",
    "command",
    "definition_line",
    "escape_data",
    "escape_property",
    "function_locations",
]

MESSAGE_CHARS = 4000
"""Longest annotation message, in characters before escaping (results.json has it whole)."""
SOURCE_BYTES = 4 * 2**20
"""Most bytes of a student's file read to find a function's line."""
_DEFINITION = re.compile(r"(?P<indent>[ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")
_LINE_END = re.compile(r"\r\n|\r|\n")
"""Python's line ends: the numbering the interpreter (and the traceback's lines) use."""


def escape_data(text: str) -> str:
    """``text`` as a command's message: ``%`` first (so an escape in the text stays as written),
    then CR and LF, so that the whole text stays on the command's one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """``text`` as a command's property value: ``escape_data``, and the ``:`` and ``,`` that
    would end the value or the property list."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """One workflow command line, ``::name key=value,...::message``, everything escaped (empty
    properties are left out)."""
    given = ",".join(f"{k}={escape_property(v)}" for k, v in (properties or {}).items() if v)
    return f"::{name}{' ' + given if given else ''}::{escape_data(message)}"


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _annotation(check: StudentCheck, where: Location | None) -> str:
    """The error (or warning, for a check that cannot fail the command) of one check."""
    kind = "error" if check.counts and check.max_score > 0 else "warning"
    properties = {"file": "", "line": "", "title": sanitize.text(check.title)}
    if where is not None:
        properties["file"] = sanitize.text(where.file)
        properties["line"] = str(where.line or "")
    # printed, not text: the message's own lines (diagnosis, points) become %0A line breaks,
    # which GitHub shows as lines of the annotation.
    return command(kind, _cut(sanitize.printed(details(check))), properties)


def _held(held: Withheld, words: str) -> str:
    checks = f"{held.count} check" + ("s" if held.count != 1 else "")
    return f"{held.points:g} points ({checks}) {words}"


def _summary(result: SubmissionResult, view: StudentView) -> str:
    """The plain last line: points shown and what is withheld (never a withheld check's score)."""
    assignment = sanitize.text(result.assignment or "unknown assignment")
    if not result.checks:
        return f"nngrader: not graded ({assignment})"
    line = f"nngrader: {view.score:g} / {view.max_score:g} points ({assignment})"
    withheld = []
    if view.pending.count:
        withheld.append(_held(view.pending, "pending, shown once released"))
    if view.by_instructor.count:
        withheld.append(_held(view.by_instructor, "graded by your instructor"))
    return line + ("; not shown: " + "; ".join(withheld) if withheld else "")


def _failing(view: StudentView) -> list[StudentCheck]:
    """The checks that did not pass, those failing on their own first: GitHub keeps only the
    first 10 errors of a step, and a check failing because of another's root cause says less."""
    failing = [c for c in view.checks if c.status != "passed"]
    return sorted(failing, key=lambda c: c.root_cause is not None)


def _lines(result: SubmissionResult, functions: Mapping[str, Location]) -> Iterator[str]:
    if result.error:
        message = _cut(sanitize.printed(f"could not grade: {result.error}"))
        yield command("error", message, {"title": "nngrader"})
    for note in result.notes:
        yield command("notice", _cut(sanitize.printed(note)))
    view = student_view(result)
    raw = {c.check_id: c for c in result.checks}
    files = graded_files(result)
    for check in _failing(view):
        where = location(raw[check.check_id], files) or functions.get(check.check_id)
        yield _annotation(check, where)
    yield _summary(result, view)


def annotations(
    result: SubmissionResult, *, functions: Mapping[str, Location] | None = None
) -> str:
    """The workflow commands of ``result`` (student view before release), one per line, then
    the summary line.

    Args:
        functions: check id -> the student's function the check is about
            (``function_locations``); a check the grader located no exception for points there.
    """
    return "\n".join(_lines(result, functions or {})) + "\n"


def definition_line(source: str, names: Collection[str]) -> int | None:
    """The line of the first top-level ``def``/``class`` of one of ``names`` in ``source``, else
    of the first nested one; None when there is none. Read as text, never parsed or run: the
    source is the student's."""
    nested = None
    for number, line in enumerate(_LINE_END.split(source), start=1):
        match = _DEFINITION.match(line)
        if match is None or match["name"] not in names:
            continue
        if not match["indent"]:
            return number
        nested = nested or number
    return nested


def read_source(root: Path, path: str) -> str | None:
    """The text of the submission's file ``path`` in the checked folder ``root``, or None: a zip
    (its files are not on disk), not a regular file, outside ``root`` (a link out), unreadable."""
    try:
        base = root.resolve()
        file = (base / path).resolve()
        if not base.is_dir() or not file.is_relative_to(base) or not file.is_file():
            return None
        with file.open("rb") as stream:
            data = stream.read(SOURCE_BYTES)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.10's resolve)
        return None
    return data.decode("utf-8", "replace")


def _spec(assignment: str) -> Spec | None:
    try:
        return get_spec(assignment)
    except GraderError:
        return None


def _names(spec: Spec, subject: str) -> set[str]:
    """What the student's function may be called: the course's name (any offering's) or the
    canonical one."""
    names = {subject, spec.api.name(subject)}
    for overrides in spec.offerings.values():
        renamed = overrides.get("names")
        if isinstance(renamed, Mapping) and isinstance(renamed.get(subject), str):
            names.add(renamed[subject])
    return names


def function_locations(
    result: SubmissionResult, root: Path, assignment: str
) -> dict[str, Location]:
    """Check id -> the student's function each check of ``result`` is about: its file in the
    submission and, when ``root`` is the checked folder, its ``def``/``class`` line.

    ``assignment`` is the spec's id or path (``--assignment``, else the result's); an unknown one
    locates nothing.
    """
    spec = _spec(assignment) if assignment else None
    if spec is None:
        return {}
    subjects = {c.id: c.subject for c in spec.checks}
    files = graded_files(result)
    sources: dict[str, str | None] = {}
    found = {}
    for check in result.checks:
        subject = subjects.get(check.check_id)
        path = files.get(spec.module_of(subject)) if subject else None
        if subject is None or path is None:
            continue
        if path not in sources:
            sources[path] = read_source(root, path)
        source = sources[path]
        line = definition_line(source, _names(spec, subject)) if source is not None else None
        found[check.check_id] = Location(path, line)
    return found
