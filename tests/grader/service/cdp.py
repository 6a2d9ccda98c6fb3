"""Driving headless Chromium over the DevTools protocol against the running service: the report
tests' ``Browser`` (``--remote-debugging-pipe``, a fresh profile) and ``Tab`` (its text, what it
logged), plus what a form needs that a command line cannot do: open an http URL, choose a file
for a file input (``DOM.setFileInputFiles``, the only way a page's file input gets a file), click,
and wait for text while the page reloads itself."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.grader.report.test_browser import Browser, Tab

__all__ = ["Browser", "Tab", "choose_file", "open_url", "wait_for_text"]


def open_url(browser: Browser, url: str) -> Tab:
    """A new tab showing ``url``, loaded; the tab keeps what the page logs from now on."""
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network", "DOM"):
        browser.call(f"{domain}.enable", session)
    browser.events.clear()
    browser.call("Page.navigate", session, url=url)
    browser.wait_for("Page.loadEventFired", session)
    return Tab(browser, session)


def choose_file(tab: Tab, selector: str, path: Path) -> None:
    """Give the file input ``selector`` the file ``path``, as a reader choosing it would."""
    root = tab.browser.call("DOM.getDocument", tab.session)["root"]["nodeId"]
    node = tab.browser.call("DOM.querySelector", tab.session, nodeId=root, selector=selector)
    assert node["nodeId"], f"no {selector} on the page"
    tab.browser.call(
        "DOM.setFileInputFiles", tab.session, nodeId=node["nodeId"], files=[str(path.resolve())]
    )


def wait_for_text(tab: Tab, pattern: str, seconds: float) -> re.Match[str]:
    """The first match of ``pattern`` in what the page shows, waiting for it while the page
    navigates or reloads (an evaluation that meets a navigation is tried again)."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        try:
            text = tab.text()
        except AssertionError:  # the page went away under the evaluation: a reload
            text = ""
        found = re.search(pattern, text)
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{pattern!r} not shown within {seconds} s; the page shows:\n{text}")
