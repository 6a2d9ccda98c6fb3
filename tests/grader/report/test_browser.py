"""The HTML reports in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe`` (the protocol as NUL-separated JSON on file
descriptors 3 and 4, so nothing listens on a port) and a fresh profile. For each page the test
reads what a reader sees (``document.body.innerText`` after the page's script ran: text hidden
by CSS is not in it), and everything the page said on the console: uncaught exceptions
(``Runtime.exceptionThrown``), ``console.error``/``warn``/``assert`` (``Runtime.consoleAPICalled``)
and the browser's own errors (``Log.entryAdded``: a style or script the page's Content Security
Policy refused, a resource that failed to load); and every request the page made
(``Network.requestWillBeSent``), which must stay within the file itself. ``test_a_page_that_errs_
is_caught`` proves each kind of error is caught.

Skipped without a Chromium binary; with ``NNGRADER_REQUIRE_BROWSER=1`` (CI) that fails instead.
Screenshots go to ``docs/`` with ``--update-goldens``, else to a temporary folder.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from grader.accuracy.formula import grade
from grader.report import html
from grader.report.student_view import student_view
from grader.results import CheckResult, SubmissionResult
from grader.spec.registry import get_spec
from tests.bundled import ROOT, BundledResults

pytestmark = pytest.mark.slow

REQUIRE = "NNGRADER_REQUIRE_BROWSER"
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--hide-scrollbars",
)  # fmt: skip
ANSWER_SECONDS = 60.0
"""How long a protocol answer may take before the test gives up (a hang guard, not a measure)."""
DOCS = ROOT / "docs"


class Browser:
    """One headless Chromium and the protocol messages it sent."""

    def __init__(self, process: subprocess.Popen[bytes], send_fd: int, read_fd: int) -> None:
        self.process, self._send, self._read = process, send_fd, read_fd
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    @classmethod
    @contextlib.contextmanager
    def started(cls, binary: str, profile: Path) -> Iterator[Browser]:
        # Our ends anywhere; Chromium's ends at 3 (it reads) and 4 (it writes), set in the child.
        theirs_read, ours_send = os.pipe()
        ours_read, theirs_write = os.pipe()
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (theirs_read, theirs_write)]
        for fd in (theirs_read, theirs_write):
            os.close(fd)

        def at_3_and_4() -> None:
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        log = (profile / "chromium.log").open("wb")
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile / 'profile'}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            # Python's own descriptors are not inherited (PEP 446); dup2 makes 3 and 4 inherited.
            close_fds=False, preexec_fn=at_3_and_4,
        )  # fmt: skip
        for fd in high:
            os.close(fd)
        browser = cls(process, ours_send, ours_read)
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                browser.call("Browser.close")
            try:
                process.wait(timeout=ANSWER_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(ours_send)
            os.close(ours_read)
            log.close()

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], ANSWER_SECONDS)
            chunk = os.read(self._read, 1 << 20) if ready else b""
            if not chunk:
                raise AssertionError("Chromium stopped answering (see chromium.log)")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, keeping the events that come before it."""
        self._id += 1
        command: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._send, json.dumps(command).encode() + b"\0")
        while True:
            message = self._message()
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, session: str) -> None:
        while not any(e["method"] == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._message())

    def open(self, path: Path, *, width: int = 1200, height: int = 2400, js: bool = True) -> Tab:
        """Load ``path`` in a new tab of that size; the tab keeps what the page did."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        self.call(
            "Emulation.setDeviceMetricsOverride", session,
            width=width, height=height, deviceScaleFactor=1, mobile=width < 600,
        )  # fmt: skip
        self.call("Emulation.setScriptExecutionDisabled", session, value=not js)
        self.events.clear()
        self.call("Page.navigate", session, url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired", session)
        return Tab(self, session)


@dataclasses.dataclass
class Tab:
    browser: Browser
    session: str

    def evaluate(self, expression: str) -> Any:
        answer = self.browser.call(
            "Runtime.evaluate", self.session, expression=expression, returnByValue=True
        )
        return answer["result"].get("value")

    def text(self) -> str:
        """What a reader sees: the rendered text, not what CSS hides."""
        return str(self.evaluate("document.body.innerText"))

    def _events(self, method: str) -> list[dict[str, Any]]:
        self.evaluate("0")  # a round trip: whatever the page logged before it has arrived
        return [
            e["params"]
            for e in self.browser.events
            if e["method"] == method and e.get("sessionId") == self.session
        ]

    def console_errors(self) -> list[str]:
        """Everything the page or the browser reported as going wrong with it."""
        thrown = [
            e["exceptionDetails"].get("exception", {}).get("description")
            or e["exceptionDetails"]["text"]
            for e in self._events("Runtime.exceptionThrown")
        ]
        called = [
            f"console.{e['type']}: " + " ".join(str(a.get("value")) for a in e["args"])
            for e in self._events("Runtime.consoleAPICalled")
            if e["type"] in ("error", "warning", "assert")
        ]
        logged = [
            f"{e['entry']['source']}: {e['entry']['text']}"
            for e in self._events("Log.entryAdded")
            if e["entry"]["level"] in ("error", "warning")
        ]
        return thrown + called + logged

    def requests(self) -> list[str]:
        return [e["request"]["url"] for e in self._events("Network.requestWillBeSent")]

    def screenshot(self, path: Path) -> None:
        data = self.browser.call("Page.captureScreenshot", self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))


def chromium_binary() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = chromium_binary()
    if binary is None:
        why = f"no Chromium binary on PATH (looked for {', '.join(BINARIES)})"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 but {why}", pytrace=False)
        pytest.skip(why)
    with Browser.started(binary, tmp_path_factory.mktemp("chromium")) as started:
        yield started


def with_accuracy(result: SubmissionResult) -> SubmissionResult:
    """``result`` as if its model had been measured at 51.3%, graded by the spec's own rule."""
    (rule,) = get_spec(result.assignment).final_accuracy
    worked = grade(rule, 513, 1000).worked
    measured = CheckResult(
        check_id=rule.id, part=result.checks[-1].part, title=rule.title, status="passed",
        score=float(rule.points), max_score=float(rule.points), visibility="visible",
        credit=Fraction(1), message=(
            "validation accuracy 51.30% (513/1000) and test accuracy 50.10% (501/1000), "
            f"measured by the grader (model from npz)\ngrade on the validation split: {worked}"
        ),
    )  # fmt: skip
    accuracy = {"val": 0.513, "test": 0.501, "printed_val": None, "source": "npz",
                "error": None, "flags": []}  # fmt: skip
    return dataclasses.replace(
        result,
        checks=(*result.checks, measured),
        extra={**result.extra, "accuracy": accuracy},
        notes=tuple(n for n in result.notes if not n.startswith("accuracy not graded")),
    )


@pytest.fixture(scope="module")
def results(bundled_results: BundledResults) -> list[SubmissionResult]:
    return [
        with_accuracy(bundled_results.result("cs231n-2021/bug-relu-backward")),
        bundled_results.result("cs231n-2021/correct"),
    ]


def shots(update_goldens: bool, tmp_path: Path) -> Path:
    return DOCS if update_goldens else tmp_path


def points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def assert_clean(tab: Tab) -> None:
    assert tab.console_errors() == []
    assert [u for u in tab.requests() if not u.startswith(("file:", "data:"))] == []


def assert_formula(text: str, result: SubmissionResult) -> None:
    steps = [s for c in result.checks for s in html.formula_steps(c.message)]
    assert steps and all(step in text for step in steps), steps


def test_the_student_report_shows_its_score_checks_and_formula(
    browser: Browser, results: list[SubmissionResult], tmp_path: Path, update_goldens: bool
) -> None:
    result = results[0]
    path = tmp_path / "report.html"
    path.write_text(html.student_report(result), encoding="utf-8")
    tab = browser.open(path)
    text = tab.text()
    view = student_view(result)
    assert f"{points(view.score)} / {points(view.max_score)} points" in text
    assert f"{points(view.by_instructor.points)} points graded by your instructor" in text
    assert all(c.title in text for c in view.checks)
    assert_formula(text, result)
    assert_clean(tab)
    tab.screenshot(shots(update_goldens, tmp_path) / "report-student.png")


def test_the_instructor_report_shows_every_check(
    browser: Browser, results: list[SubmissionResult], tmp_path: Path, update_goldens: bool
) -> None:
    result = results[0]
    path = tmp_path / "report-instructor.html"
    path.write_text(html.instructor_report(result), encoding="utf-8")
    tab = browser.open(path)
    text = tab.text()
    assert f"{points(result.score)} / {points(result.max_score)} points" in text
    assert all(c.title in text for c in result.checks)
    assert_formula(text, result)
    assert_clean(tab)
    tab.screenshot(shots(update_goldens, tmp_path) / "report-instructor.png")


def test_the_class_index_sorts_and_works_without_script(
    browser: Browser, results: list[SubmissionResult], tmp_path: Path, update_goldens: bool
) -> None:
    path = tmp_path / "index.html"
    path.write_text(html.class_index(results), encoding="utf-8")
    tab = browser.open(path)
    text = tab.text()
    assert "2 submissions" in text and "Measured validation accuracy" in text
    assert all(c.title in text for r in results for c in r.checks)
    assert_clean(tab)
    tab.screenshot(shots(update_goldens, tmp_path) / "class-index.png")
    first = "document.querySelector('#submissions tbody tr td').textContent"
    assert tab.evaluate(first) == "bug-relu-backward"
    tab.evaluate("document.querySelector('#submissions th:nth-child(2)').click()")  # score
    assert tab.evaluate(first) == "bug-relu-backward"  # ascending: the lower score
    tab.evaluate("document.querySelector('#submissions th:nth-child(2)').click()")
    assert tab.evaluate(first) == "correct"
    assert_clean(tab)
    plain = browser.open(path, js=False)
    rows = "document.querySelectorAll('#submissions tbody tr').length"
    assert plain.evaluate(rows) == len(results)
    assert "2 submissions" in plain.text()


@pytest.mark.parametrize("page", ["student", "instructor", "index"])
def test_every_page_fits_a_phone(
    browser: Browser, results: list[SubmissionResult], tmp_path: Path, page: str
) -> None:
    """Nothing wider than the screen: long lines wrap and tables scroll in their own box."""
    text = {
        "student": lambda: html.student_report(results[0]),
        "instructor": lambda: html.instructor_report(results[0]),
        "index": lambda: html.class_index(results),
    }[page]()
    path = tmp_path / f"{page}.html"
    path.write_text(text, encoding="utf-8")
    tab = browser.open(path, width=390, height=844)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    assert_clean(tab)


ERRING = {
    "thrown": "<script>throw new Error('thrown here')</script>",
    "console": "<script>console.error('said here')</script>",
    "refused": (
        "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
        "<script>document.title = 'ran'</script>"
    ),
}


@pytest.mark.parametrize("kind", sorted(ERRING))
def test_a_page_that_errs_is_caught(browser: Browser, tmp_path: Path, kind: str) -> None:
    """The check that the reports log nothing would catch a page that does."""
    path = tmp_path / "erring.html"
    path.write_text(f"<!doctype html><html><head>{ERRING[kind]}</head><body>x</body></html>")
    errors = browser.open(path).console_errors()
    assert len(errors) == 1, errors
    assert {"thrown": "thrown here", "console": "said here", "refused": "Content Security"}[
        kind
    ] in errors[0]


def test_a_page_that_reaches_out_is_caught(browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "remote.html"
    path.write_text("<!doctype html><img src='http://nngrader.invalid/x.png'>")
    tab = browser.open(path)
    assert "http://nngrader.invalid/x.png" in tab.requests()
