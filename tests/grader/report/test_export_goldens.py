"""Golden exports of the bundled examples: the gradebook CSV, JUnit XML, Markdown summary and
GitHub annotations.

One file per format over every bundled example graded together (a batch of several courses, so
the CSV's column union and the JUnit classnames of a batch are pinned too), and the JUnit of one
submission alone (whose classnames do not name the submission). GitHub's annotations are made
per submission (``nngrader check --format github``): their golden holds each bundled example's,
under a ``# <course>/<name>`` line, with the lines of the example's own functions. Wall times
are not pinned: every JUnit ``time`` attribute is written as ``0.000``. The CSV golden has plain
line ends (the test checks the ``\r\n`` apart). ``pytest --update-goldens`` rewrites the files;
review the diff before committing it.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
import xmlschema

from grader.report.github import annotations, function_locations
from grader.report.gradebook import grades_csv
from grader.report.junit import junit_xml
from grader.report.markdown import MAX_BYTES, summary_markdown
from grader.results import SubmissionResult
from tests.bundled import BundledResults, bundled

GOLDENS = Path(__file__).resolve().parents[2] / "goldens"
NAMES = [f"{course}/{path.name}" for course, paths in bundled().items() for path in paths]
ALONE = "cs231n-2021/missing-raising-hanging"
_TIME = re.compile(r' time="[0-9.]+"')

pytestmark = pytest.mark.slow


def without_times(xml: str) -> str:
    """``xml`` with every ``time`` attribute ``0.000`` (wall times differ from run to run)."""
    return _TIME.sub(' time="0.000"', xml)


def compare(golden: Path, actual: str, update: bool) -> None:
    """Compare ``actual`` with the golden file (bytes as written), or rewrite the golden."""
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual.encode("utf-8"))
    assert golden.is_file(), f"no golden {golden.name}: run pytest --update-goldens"
    assert actual == golden.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def every_result(bundled_results: BundledResults) -> list[SubmissionResult]:
    return [bundled_results.result(name) for name in NAMES]


def test_gradebook_csv_matches_its_golden(
    every_result: list[SubmissionResult], update_goldens: bool
) -> None:
    text = grades_csv(every_result)
    assert "\n" not in text.replace("\r\n", "")  # the csv module's line ends, and only those
    # Kept with plain line ends: git may rewrite CRLF in a committed text file (core.autocrlf).
    compare(GOLDENS / "csv" / "bundled.csv", text.replace("\r\n", "\n"), update_goldens)


def test_junit_matches_its_golden_and_the_schema(
    every_result: list[SubmissionResult], update_goldens: bool
) -> None:
    text = junit_xml(every_result)
    schema = xmlschema.XMLSchema(str(files("grader.report").joinpath("schemas", "junit.xsd")))
    schema.validate(text)
    compare(GOLDENS / "junit" / "bundled.xml", without_times(text), update_goldens)


def test_junit_of_one_submission_matches_its_golden(
    bundled_results: BundledResults, update_goldens: bool
) -> None:
    text = junit_xml([bundled_results.result(ALONE)])
    golden = GOLDENS / "junit" / (ALONE.replace("/", "--") + ".xml")
    compare(golden, without_times(text), update_goldens)


def test_markdown_summary_matches_its_golden(
    every_result: list[SubmissionResult], update_goldens: bool
) -> None:
    text = summary_markdown(every_result)
    assert len(text.encode("utf-8")) <= MAX_BYTES
    compare(GOLDENS / "markdown" / "bundled.md", text, update_goldens)


def test_github_annotations_match_their_golden(
    bundled_results: BundledResults, update_goldens: bool
) -> None:
    parts = []
    for name in NAMES:
        result = bundled_results.result(name)
        course = name.partition("/")[0]
        functions = function_locations(result, bundled_results.folders[name], course)
        parts.append(f"# {name}\n{annotations(result, functions=functions)}")
    compare(GOLDENS / "github" / "bundled.txt", "\n".join(parts), update_goldens)


def test_every_export_golden_is_one_of_these() -> None:
    """A golden left behind by a renamed test would pin nothing."""
    expected = {
        "csv/bundled.csv",
        "junit/bundled.xml",
        f"junit/{ALONE.replace('/', '--')}.xml",
        "markdown/bundled.md",
        "github/bundled.txt",
    }
    found = {
        p.relative_to(GOLDENS).as_posix()
        for kind in ("csv", "junit", "markdown", "github")
        for p in (GOLDENS / kind).glob("*")
    }
    assert found <= expected
