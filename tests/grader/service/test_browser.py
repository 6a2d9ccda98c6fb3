"""The service's pages in a real browser: headless Chromium opens the upload form, chooses the
bundled correct example's zip for the file input and submits the form, and follows the job's page
as it reloads itself until the score shows, all without one console error (a Content Security
Policy refusal included).

Skipped without a Chromium binary; with ``NNGRADER_REQUIRE_BROWSER=1`` (CI) that fails instead,
as the report's browser tests do (``tests/grader/report/test_browser.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# The report tests' module-scoped Chromium (skips, or fails with NNGRADER_REQUIRE_BROWSER=1).
from tests.grader.report.test_browser import browser  # noqa: F401 - a fixture
from tests.grader.service.cdp import Browser, choose_file, open_url, wait_for_text
from tests.grader.service.conftest import Served

pytestmark = pytest.mark.slow
GRADING_SECONDS = 300.0


def test_a_student_uploads_through_the_form_and_sees_the_score(
    browser: Browser,  # noqa: F811 - the imported fixture
    served: Callable[..., Served],
    correct_zip: bytes,
    tmp_path: Path,
) -> None:
    service = served(workers=True)
    upload = tmp_path / "correct.zip"
    upload.write_bytes(correct_zip)
    base = str(service.http.base_url).rstrip("/")
    tab = open_url(browser, f"{base}/")
    assert "Submit your work" in tab.text()
    choose_file(tab, "#submit input[type=file]", upload)
    tab.evaluate("document.querySelector('#submit button[type=submit]').click()")
    wait_for_text(tab, r"(?i)\b(queued|running|done)\b", 60)
    assert "/jobs/" in tab.evaluate("location.pathname")
    assert "key=" in tab.evaluate("location.search")
    score = wait_for_text(tab, r"([\d.]+) / ([\d.]+) points", GRADING_SECONDS)
    assert score[1] == score[2] and float(score[1]) > 0
    assert "done" in tab.text().lower()
    assert tab.evaluate("document.querySelector('iframe.report').src").startswith(
        f"{base}/api/jobs/"
    )
    assert tab.console_errors() == []
    assert all(u.startswith((base, "data:")) for u in tab.requests())
