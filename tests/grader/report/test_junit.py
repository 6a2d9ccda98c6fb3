"""JUnit XML: valid against the schema, hostile text inert, withheld checks said only as points."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from importlib.resources import files

import pytest
import xmlschema

from grader.report.junit import junit_xml, xml_text
from grader.results import CheckResult, ModuleProblem, Raised, SubmissionResult
from tests.grader.report import factories
from tests.grader.report.factories import SECRET, check, secret_check

HOSTILE = "=cmd|' /C calc'!A0 <script>alert(1)</script> ]]> \x00\x07\x1b[2J \ufffe\ud800 `x`"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(files("grader.report").joinpath("schemas", "junit.xsd")))


def result(*checks: CheckResult, name: str = "alice", **kw: object) -> SubmissionResult:
    """A result whose graded files are known (the JUnit file attribute maps names to them)."""
    kw.setdefault("extra", {"files": {"layers": "hw2/cs231n/layers.py"}})
    return factories.result(*checks, name=name, **kw)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))  # noqa: S314 - our own output, under test


def test_every_kind_of_result_validates_against_the_schema(schema: xmlschema.XMLSchema) -> None:
    problem = ModuleProblem(
        module="cs231n/layers.py",
        summary="SyntaxError: invalid syntax",
        file="cs231n/layers.py",
        line=3,
    )
    text = junit_xml(
        [
            result(
                check("a", status="passed"),
                check("b"),
                check("c", status="timeout", message="did not finish within 5 s"),
                secret_check("d", "visible"),
                check("e", status="error", blocked_by=problem),
                check("f", counts=False, max_score=0.0),
                check("g", "hidden"),
                check("h", "after_due_date"),
                replace(check("i"), part="bn"),
            ),
            SubmissionResult(
                name=HOSTILE,
                assignment="",
                detection="",
                checks=(),
                isolation="process",
                error=HOSTILE,
            ),
        ]
    )
    schema.validate(text)
    root = parse(text)
    assert [s.get("name") for s in root.iter("testsuite")][:2] == ["alice / fc", "alice / bn"]
    # 6 visible checks and 2 skipped (withheld) in fc, 1 in bn, 1 for the submission not graded
    assert root.get("tests") == "10" and root.get("skipped") == "2"


def test_the_schema_is_not_a_formality(schema: xmlschema.XMLSchema) -> None:
    """A document that breaks the JUnit structure is refused: validating it means something."""
    good = junit_xml([result(check("a"))])
    assert schema.is_valid(good)
    assert not schema.is_valid(good.replace('name="a output"', ""))  # a test case needs a name
    assert not schema.is_valid(good.replace('time="0.250"', 'time="-1"'))
    assert not schema.is_valid(
        good.replace("<failure", "<passed").replace("</failure>", "</passed>")
    )


def test_statuses_become_failure_error_and_the_counts_add_up() -> None:
    root = parse(
        junit_xml(
            [
                result(
                    check("a", status="passed"),
                    check("b"),
                    check("c", status="timeout"),
                    check("d", status="error"),
                )
            ]
        )
    )
    (suite,) = root.iter("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "4",
        "failures": "1",
        "errors": "2",
        "skipped": "0",
    }
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases["a output"]) == []
    failure = cases["b output"].find("failure")
    assert failure is not None and failure.get("type") == "failed"
    # GitLab shows the element's text only: the message is there too, with the points.
    assert failure.get("message") == "b: worst element got 1.5, expected 2.0"
    assert failure.text == "b: worst element got 1.5, expected 2.0\n0 / 2 points"
    timeout = cases["c output"].find("error")
    assert timeout is not None and timeout.get("type") == "timeout"
    assert cases["a output"].get("classname") == "cs231n-2021.fc"


def test_a_batch_puts_the_submission_in_the_classname_so_tests_stay_apart() -> None:
    """GitLab keeps only the first of tests with equal classname and name."""
    root = parse(junit_xml([result(check("a"), name="alice"), result(check("a"), name="bob")]))
    keys = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert keys == [("alice.cs231n-2021.fc", "a output"), ("bob.cs231n-2021.fc", "a output")]


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published"])
def test_a_withheld_check_leaves_no_trace_but_its_points(visibility: str) -> None:
    text = junit_xml([result(check("shown", status="passed"), secret_check("kept", visibility))])
    assert SECRET not in text
    assert "kept" not in text  # not even its id or title before release
    assert "layers.py" not in text  # nor where its code raised
    skipped = [c for c in parse(text).iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == 1
    said = skipped[0].find("skipped")
    assert said is not None and said.text == said.get("message")
    assert said.text is not None and said.text.startswith("2 points (1 check) ")


def test_a_visible_check_shows_what_a_hidden_one_may_not() -> None:
    """The control for the test above: the secret does reach the file when the rules allow."""
    text = junit_xml([result(secret_check("kept", "visible"))])
    assert SECRET in text
    (case,) = parse(text).iter("testcase")
    out = case.find("system-out")
    assert out is not None and out.text == f"DEBUG {SECRET}"
    error = case.find("error")
    assert (
        error is not None
        and error.text is not None
        and f"Looks like: looks like {SECRET}" in error.text
    )


def test_file_and_line_point_into_the_submission() -> None:
    problem = ModuleProblem(
        module="cs231n/layers.py", summary="SyntaxError", file="cs231n/layers.py", line=3
    )
    root = parse(
        junit_xml(
            [
                result(
                    secret_check("raised", "visible"),
                    check("blocked", status="error", blocked_by=problem),
                    check("plain"),
                    replace(
                        secret_check("elsewhere", "visible"),
                        raised=Raised("ValueError", " (util.py, line 9)"),
                    ),
                )
            ]
        )
    )
    where = {c.get("name"): (c.get("file"), c.get("line")) for c in root.iter("testcase")}
    assert where == {
        "raised output": ("hw2/cs231n/layers.py", "7"),  # the found file of that base name
        "blocked output": ("hw2/cs231n/layers.py", "3"),
        "plain output": (None, None),
        "elsewhere output": ("util.py", "9"),  # no graded file of that name: as the grader said it
    }


def test_hostile_text_is_inert() -> None:
    hostile = check("a", title=HOSTILE, message=HOSTILE, output=HOSTILE)
    text = junit_xml([result(hostile, name=HOSTILE), result(check("b"), name="bob")])
    root = parse(text)  # well-formed: forbidden characters are gone, the rest escaped
    assert [e.tag for e in root.iter() if e.tag == "script"] == []
    assert (
        "<script>" not in text and "]]>" not in text and "\x00" not in text and "\x1b" not in text
    )
    (case,) = [c for c in root.iter("testcase") if c.get("name", "").startswith("=cmd")]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith(xml_text(HOSTILE))  # the words themselves survive, as text
    assert "<script>alert(1)</script> ]]>" in failure.text


def test_xml_text_drops_only_what_xml_forbids() -> None:
    assert xml_text("a\tb\nc\rd\x00\x08\x0b\x1f\ufffe\uffff\ud800é😀") == "a\tb\nc\rdé😀"


def test_a_submission_not_graded_is_one_error() -> None:
    root = parse(
        junit_xml(
            [
                SubmissionResult(
                    name="x",
                    assignment="",
                    detection="",
                    checks=(),
                    isolation="process",
                    error="broken zip",
                )
            ]
        )
    )
    (case,) = root.iter("testcase")
    error = case.find("error")
    assert error is not None and error.text == "broken zip" and case.get("classname") == "unknown"


def test_the_submission_s_notes_are_properties_of_its_first_suite(
    schema: xmlschema.XMLSchema,
) -> None:
    notes = ("12 more points are graded by your instructor", "left out a.txt \x1b[2J")
    two_parts = (check("a"), replace(check("b"), part="bn"))
    text = junit_xml([result(*two_parts, notes=notes), result(name="bob", error="x", notes=notes)])
    schema.validate(text)
    said = [
        [p.get("value") for p in suite.iter("property") if p.get("name") == "note"]
        for suite in parse(text).iter("testsuite")
    ]
    expected = ["12 more points are graded by your instructor", "left out a.txt \\x1b[2J"]
    assert said == [expected, [], expected]  # alice's two parts, bob not graded
