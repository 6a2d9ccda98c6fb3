"""JUnit XML of a batch, for the test reports of GitLab (``artifacts:reports:junit``) and GitHub
(test-reporter actions): a student's CI shows each check as a test.

One ``<testsuite>`` per (submission, part), named ``<submission> / <part>``, with a
``<testcase>`` per check the student may see (``grader.report.student_view``, before release):
``classname`` is ``<assignment>.<part>`` (GitLab shows the classname as the suite, and keys a
test by classname and name, keeping only the first of equal keys: in a batch of several
submissions the classname therefore starts with the submission); ``name`` is the check's title
(unique in a spec); ``time`` its wall time; ``file`` and ``line`` where the grader located the
student's exception or the import problem that blocked the check. A failed check holds
``<failure>``, an error or a timeout ``<error>``, each with the message as its ``message``
attribute and, with the diagnosis and the points, as its text: GitLab shows only the text.
What a visible check's code printed is its ``<system-out>``.

Checks the student may not see yet are said as one ``<skipped>`` test per group and part
("4 points (2 checks) pending, shown once released", "5 points (3 checks) graded by your
instructor"), never one per check: GitLab and the GitHub reporters show a skipped test and its
text, but ignore a suite's ``<properties>`` and ``<system-out>`` (GitLab reads ``system-out``
of test cases only); the suite's properties carry the same points for readers that keep them
(Jenkins). Nothing of a withheld check (title, message, output, time) is written.

The document is built with ``xml.etree.ElementTree``, which escapes ``<``, ``>`` and ``&`` (so
no ``]]>`` or markup of a student's survives as such); characters XML 1.0 forbids are dropped
first, and names go through ``grader.sanitize`` like every view's. It conforms to
``schemas/junit.xsd`` (Jenkins' junit-10 structure with pytest's ``file`` and ``line``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from grader import sanitize
from grader.report.names import readable
from grader.report.student_view import StudentCheck, Withheld, student_view
from grader.results import CheckResult, SubmissionResult

__all__ = [
    "MESSAGE_CHARS",
    "Location",
    "details",
    "graded_files",
    "junit_xml",
    "location",
    "xml_text",
]

MESSAGE_CHARS = 500
"""Longest ``message`` attribute (the element's text holds the whole message)."""
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 does not allow in a document, even escaped (C0 controls but tab and line
ends, lone surrogates, U+FFFE and U+FFFF)."""
_WHERE = re.compile(r"^ \((?P<file>.+), line (?P<line>[1-9][0-9]*)\)$")
"""``Raised.where``: `` (layers.py, line 12)``."""
_ELEMENT = {"failed": "failure", "error": "error", "timeout": "error"}


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (ElementTree would write them as they
    are, and no reader would open the file)."""
    return _FORBIDDEN.sub("", text)


@dataclass(frozen=True)
class Location:
    """Where a check's failure is, as a path in the submission and a line."""

    file: str
    line: int | None


def _source_path(name: str, files: Mapping[str, str]) -> str:
    """The submission's path of a file the grader named by its base name or course path:
    the one found file with that base name (``extra["files"]``), else ``name`` as it is."""
    base = PurePosixPath(name).name
    found = [p for p in files.values() if PurePosixPath(p).name == base]
    return found[0] if len(found) == 1 else name


def location(check: CheckResult, files: Mapping[str, str]) -> Location | None:
    """Where a visible check's failure is located (its exception or the module problem that
    blocked it), or None; never for a check that is not visible, whose inputs reached the code.
    """
    if check.visibility != "visible":
        return None
    if check.blocked_by is not None and check.blocked_by.file:
        return Location(_source_path(check.blocked_by.file, files), check.blocked_by.line)
    match = _WHERE.match(check.raised.where) if check.raised is not None else None
    if match is None:
        return None
    return Location(_source_path(match["file"], files), int(match["line"]))


def _seconds(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}"


def _points(check: StudentCheck) -> str:
    if not check.counts:
        return "informative, no points"
    return f"{check.score:g} / {check.max_score:g} points"


def details(check: StudentCheck) -> str:
    """The text of a failure or error element (and of a GitHub annotation): message, diagnosis,
    root cause, points."""
    lines = [check.message] if check.message else []
    if check.diagnosis:
        lines.append(f"Looks like: {check.diagnosis}")
    if check.root_cause:
        lines.append(f"Likely root cause: check '{check.root_cause}' failed too")
    lines.append(_points(check))
    return "\n".join(lines)


def _testcase(
    suite: ET.Element, check: StudentCheck, classname: str, where: Location | None
) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=xml_text(classname),
        name=xml_text(check.title),
        time=_seconds(check.seconds),
    )
    if where is not None:
        case.set("file", xml_text(where.file))
        if where.line is not None:
            case.set("line", str(where.line))
    tag = _ELEMENT.get(check.status)
    if tag is not None:
        message = (check.message.splitlines() or [check.status])[0]
        problem = ET.SubElement(
            case, tag, message=xml_text(message[:MESSAGE_CHARS]), type=check.status
        )
        problem.text = xml_text(details(check))
    if check.output:
        ET.SubElement(case, "system-out").text = xml_text(check.output)


_WITHHELD = {
    "pending": ("pending release", "pending, shown once released"),
    "by_instructor": ("graded by your instructor", "graded by your instructor"),
}
"""Per group of withheld checks: the skipped test's name (the same in every run, so that a
reader comparing runs pairs them), and what it says after ``4 points (2 checks)``."""


def _withheld_case(suite: ET.Element, key: str, held: Withheld, classname: str) -> None:
    """One skipped test saying how many points (and checks) a group withholds."""
    name, words = _WITHHELD[key]
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname), name=name, time="0.000")
    checks = f"{held.count} check" + ("s" if held.count != 1 else "")
    said = f"{held.points:g} points ({checks}) {words}"
    ET.SubElement(case, "skipped", message=said).text = said


def _parts(result: SubmissionResult) -> Iterator[tuple[str, tuple[CheckResult, ...]]]:
    """(part, its checks) in the order the spec has them."""
    order = dict.fromkeys(c.part for c in result.checks)
    for part in order:
        yield part, tuple(c for c in result.checks if c.part == part)


def _finish(suite: ET.Element) -> None:
    """Set the suite's counts and time from its test cases."""
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        suite.set(key, str(sum(c.find(tag) is not None for c in cases)))
    suite.set("time", _seconds(sum(float(c.get("time", "0")) for c in cases)))


def _suite(
    root: ET.Element, name: str, properties: Mapping[str, str], notes: Sequence[str] = ()
) -> ET.Element:
    """A suite with its ``properties``, and a ``note`` property for each of ``notes`` (the
    submission's, on its first suite: what intake skipped, the points a public check leaves to
    the instructor, how it was isolated)."""
    suite = ET.SubElement(root, "testsuite", name=xml_text(name))
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=key, value=xml_text(value))
    for note in notes:
        ET.SubElement(props, "property", name="note", value=xml_text(sanitize.printed(note)))
    return suite


def _not_graded(
    root: ET.Element, result: SubmissionResult, submission: str, classname: str
) -> None:
    """The suite of a submission that has no checks (nothing found, no spec fits): one error."""
    suite = _suite(root, submission, {"submission": submission}, result.notes)
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname), name="grading")
    case.set("time", _seconds(result.seconds))
    error = sanitize.printed(result.error or "no checks were graded")
    first = (error.splitlines() or [error])[0]
    element = ET.SubElement(case, "error", message=xml_text(first[:MESSAGE_CHARS]), type="error")
    element.text = xml_text(error)
    _finish(suite)


def graded_files(result: SubmissionResult) -> dict[str, str]:
    """The submission's graded files (``extra["files"]``: module -> path in the submission)."""
    files = result.extra.get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k): v for k, v in files.items() if isinstance(v, str)}


def _result_suites(root: ET.Element, result: SubmissionResult, many: bool) -> None:
    """The suites of one submission: one per part, or one for a submission not graded."""
    submission = sanitize.text(readable(result.name))
    assignment = result.assignment or "unknown"
    prefix = f"{submission}." if many else ""
    if not result.checks:
        _not_graded(root, result, submission, prefix + assignment)
        return
    files = graded_files(result)
    for n, (part, checks) in enumerate(_parts(result)):
        view = student_view(replace(result, checks=checks))
        raw = {c.check_id: c for c in checks}
        classname = f"{prefix}{assignment}.{part}"
        suite = _suite(
            root,
            f"{submission} / {part}",
            {
                "submission": submission,
                "assignment": assignment,
                "part": part,
                "points_shown": f"{view.score:g} / {view.max_score:g}",
                "points_pending": f"{view.pending.points:g}",
                "points_graded_by_instructor": f"{view.by_instructor.points:g}",
            },
            result.notes if n == 0 else (),  # the submission's: said once, with its first part
        )
        for check in view.checks:
            _testcase(suite, check, classname, location(raw[check.check_id], files))
        if view.pending.count:
            _withheld_case(suite, "pending", view.pending, classname)
        if view.by_instructor.count:
            _withheld_case(suite, "by_instructor", view.by_instructor, classname)
        _finish(suite)


def junit_xml(results: Sequence[SubmissionResult]) -> str:
    """The JUnit XML document of ``results`` (UTF-8 text with its declaration), student view
    before release."""
    root = ET.Element("testsuites", name="nngrader")
    for result in results:
        _result_suites(root, result, many=len(results) > 1)
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _seconds(sum(float(s.get("time", "0")) for s in suites)))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
