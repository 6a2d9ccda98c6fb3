"""GitHub workflow commands: escaped as GitHub reads them, pointing at the student's code, nothing
of a withheld check, and no command a student's text could forge."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from grader.report.github import (
    MESSAGE_CHARS,
    annotations,
    command,
    definition_line,
    escape_data,
    escape_property,
    function_locations,
)
from grader.report.junit import Location
from grader.results import CheckResult, Raised, SubmissionResult
from tests.grader.report import factories
from tests.grader.report.factories import SECRET, check, secret_check

FORGED = "x\n::error file=evil.py,line=1::forged\r::add-mask::y\r\n::stop-commands::t"
"""Text that would be three commands of its own if a line break got through."""
_UNESCAPE = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}


def unescape(text: str) -> str:
    """What GitHub's runner reads back from an escaped value."""
    return re.sub("%25|%0D|%0A|%3A|%2C", lambda m: _UNESCAPE[m[0]], text)


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command line as GitHub's runner splits it: name, properties, message."""
    assert line.startswith("::"), line
    head, sep, message = line[2:].partition("::")
    assert sep, line
    name, _, given = head.partition(" ")
    properties = dict(p.split("=", 1) for p in given.split(",")) if given else {}
    return name, {k: unescape(v) for k, v in properties.items()}, unescape(message)


def result(*checks: CheckResult, **kw: object) -> SubmissionResult:
    """A result whose graded files are known (annotations name the file in the submission)."""
    kw.setdefault("extra", {"files": {"layers": "hw2/cs231n/layers.py"}})
    assignment = str(kw.pop("assignment", "cs231n-2021"))
    return replace(factories.result(*checks, **kw), assignment=assignment)


def commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    return [parse(line) for line in text.splitlines() if line.startswith("::")]


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext%3A a%2Cb"
    assert escape_data("%0A stays as written") == "%250A stays as written"
    assert unescape(escape_property("%0A:,\n\r%")) == "%0A:,\n\r%"
    assert command("error", "m", {"file": "a,b.py", "line": "", "title": "t:1"}) == (
        "::error file=a%2Cb.py,title=t%3A1::m"
    )
    assert command("notice", "just a message") == "::notice::just a message"


@pytest.mark.parametrize("where", ["message", "title", "diagnosis", "note", "error", "names"])
def test_a_students_text_cannot_forge_a_workflow_command(where: str) -> None:
    fields = {"message", "title", "diagnosis"}
    forged = check("a", **({where: FORGED} if where in fields else {}))
    kw: dict[str, object] = {}
    if where == "note":
        kw["notes"] = (FORGED,)
    if where == "error":
        kw["error"] = FORGED
    if where == "names":
        kw.update(name=FORGED, assignment=FORGED)
    text = annotations(result(forged, **kw))
    lines = text.splitlines()
    # Ours only: one line per command, then the summary; no line the student's text began.
    assert not [line for line in lines if re.match("::(error file=evil|add-mask|stop-comm)", line)]
    assert all(line.startswith(("::error ", "::notice::", "nngrader: ")) for line in lines)
    assert len([line for line in lines if line.startswith("::error ")]) == 1 + (where == "error")
    assert not [c for c in text if c in "\r\x1b"] and text.endswith("\n")
    if where in ("message", "note", "error"):  # said, inert, with its line breaks as GitHub's
        assert any("\n::error file=evil.py,line=1::forged" in m for _, _, m in commands(text))


def test_a_failing_check_points_at_the_line_of_its_exception() -> None:
    raised = check(
        "a",
        status="error",
        message="raised ValueError: bad shape (layers.py, line 7)",
        raised=Raised(type="ValueError", where=" (layers.py, line 7)"),
    )
    elsewhere = {"a": Location("hw2/cs231n/layers.py", 99)}
    ((name, properties, message),) = commands(annotations(result(raised), functions=elsewhere))
    assert name == "error"
    assert properties == {"file": "hw2/cs231n/layers.py", "line": "7", "title": "a output"}
    assert message == "raised ValueError: bad shape (layers.py, line 7)\n0 / 2 points"


def test_a_wrong_value_points_at_the_students_function() -> None:
    wrong = check("relu_backward", diagnosis="forgot the mask", root_cause=None)
    functions = {"relu_backward": Location("cs231n/layers.py", 34)}
    text = annotations(result(wrong), functions=functions)
    ((name, properties, message),) = commands(text)
    assert (name, properties["file"], properties["line"]) == ("error", "cs231n/layers.py", "34")
    assert message.splitlines() == [
        "relu_backward: worst element got 1.5, expected 2.0",
        "Looks like: forgot the mask",
        "0 / 2 points",
    ]
    assert text.splitlines()[-1] == "nngrader: 0 / 2 points (cs231n-2021)"
    # A file without a line (the function was not found) is still the place to look.
    moved = annotations(result(wrong), functions={"relu_backward": Location("l.py", None)})
    assert commands(moved)[0][1] == {"file": "l.py", "title": "relu_backward output"}
    assert commands(annotations(result(wrong)))[0][1] == {"title": "relu_backward output"}


def test_a_check_the_student_may_not_see_is_never_detailed() -> None:
    checks = (
        secret_check("h", "hidden"),
        secret_check("d", "after_due_date"),
        check("v", status="passed"),
    )
    functions = {c.check_id: Location("hw2/cs231n/layers.py", 7) for c in checks}
    text = annotations(result(*checks), functions=functions)
    assert SECRET not in text and "h output" not in text and "d output" not in text
    assert "file=" not in text and "::error" not in text
    assert text.splitlines()[-1] == (
        "nngrader: 2 / 2 points (cs231n-2021); not shown: 2 points (1 check) pending, shown "
        "once released; 2 points (1 check) graded by your instructor"
    )


def test_a_visible_checks_secret_free_text_is_shown_whole() -> None:
    (only,) = commands(annotations(result(secret_check("s", "visible"))))
    assert SECRET in only[2] and f"note {SECRET}" in only[2]  # the check's notes join it


def test_notes_are_notices() -> None:
    notes = ("6 more points are graded by your instructor", "two\nlines: 100%")
    text = annotations(result(check("a", status="passed"), notes=notes))
    assert text.splitlines()[:2] == [
        "::notice::6 more points are graded by your instructor",
        "::notice::two%0Alines: 100%25",
    ]


def test_an_informative_check_warns_and_a_root_cause_comes_first() -> None:
    caused = check("net", root_cause="relu_backward")
    info = check("info", counts=False, max_score=0.0)
    free = check("free", max_score=0.0)
    own = check("relu_backward")
    found = commands(annotations(result(caused, info, free, own)))
    assert [(n, p["title"]) for n, p, _ in found] == [
        ("warning", "info output"),
        ("warning", "free output"),
        ("error", "relu_backward output"),
        ("error", "net output"),
    ]
    assert found[0][2].endswith("informative, no points")
    assert "Likely root cause: check 'relu_backward' failed too" in found[3][2]


def test_a_result_not_graded_is_one_error() -> None:
    broken = result(assignment="", error="no Python files or notebooks found")
    assert annotations(broken).splitlines() == [
        "::error title=nngrader::could not grade: no Python files or notebooks found",
        "nngrader: not graded (unknown assignment)",
    ]


def test_a_long_message_is_cut() -> None:
    (only,) = commands(annotations(result(check("a", message="x" * 10 * MESSAGE_CHARS))))
    assert len(only[2]) == MESSAGE_CHARS and only[2].endswith("…")


def test_definition_line_reads_the_source_as_text() -> None:
    source = (
        "import numpy as np\r\n"
        "def relu_backward_old(dout, cache):\r\n"
        "    def relu_backward(x):\n"
        "        pass\n"
        "async def relu_backward(dout, cache):\n"
        "class FullyConnectedNet(object):\n"
    )
    assert definition_line(source, {"relu_backward"}) == 5
    assert definition_line(source, {"FullyConnectedNet"}) == 6
    assert definition_line(source.replace("async def relu", "def relu_"), {"relu_backward"}) == 3
    assert definition_line(source, {"affine_forward"}) is None
    assert definition_line("x = 1\rdef f():\r    pass\r", {"f"}) == 2


def _layers(root: Path, text: str = "import numpy as np\n\n\ndef relu_backward(d, c):\n") -> None:
    (root / "cs231n").mkdir(parents=True)
    (root / "cs231n" / "layers.py").write_text(text)


def test_function_locations_find_each_checks_function(tmp_path: Path) -> None:
    _layers(tmp_path)
    graded = factories.result(
        check("relu_backward"),
        check("relu_forward"),
        check("not_in_the_spec"),
        extra={"files": {"layers": "cs231n/layers.py"}},
    )
    assert function_locations(graded, tmp_path, "cs231n-2021") == {
        "relu_backward": Location("cs231n/layers.py", 4),
        "relu_forward": Location("cs231n/layers.py", None),
    }
    assert function_locations(graded, tmp_path, "no-such-course") == {}
    assert function_locations(graded, tmp_path, "") == {}


def test_function_locations_read_nothing_outside_the_checked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _layers(outside)
    root = tmp_path / "checked"
    (root / "cs231n").mkdir(parents=True)
    (root / "cs231n" / "layers.py").symlink_to(outside / "cs231n" / "layers.py")
    files = {"files": {"layers": "cs231n/layers.py"}}
    graded = factories.result(check("relu_backward"), extra=files)
    expected = {"relu_backward": Location("cs231n/layers.py", None)}
    assert function_locations(graded, root, "cs231n-2021") == expected
    dotted = factories.result(
        check("relu_backward"), extra={"files": {"layers": "../outside/cs231n/layers.py"}}
    )
    assert function_locations(dotted, root, "cs231n-2021")["relu_backward"].line is None
    archive = tmp_path / "s.zip"  # a zip's files are not on disk: the file, no line
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cs231n/layers.py", "def relu_backward(d, c):\n")
    assert function_locations(graded, archive, "cs231n-2021") == expected
