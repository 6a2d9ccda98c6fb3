"""Student text (exception messages and types, printed output, returned names) cannot drive the
terminal, forge a line of the report or break results.json (see conftest.py for the invariants).

Every string from the child is sanitized on arrival (``grader.sanitize``): what the student wrote
is still reported, with its control characters shown as escapes (``\\x1b``) and its invalid
UTF-8 and lone surrogates as U+FFFD.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import BASE, Graded, Hostile
from tests.hostile.test_hidden_leaks import cli, terminal

pytestmark = pytest.mark.sandbox

FIRST = "affine_forward"
FAKE_TOTAL = "Total: 59 / 59"
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")


def dirty(text: str, keep: str = "\n\t") -> list[str]:
    """The control, separator, bidi and surrogate characters in ``text`` (but ``keep``)."""
    return [
        repr(ch)
        for ch in text
        if ch not in keep and (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI)
    ]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def assert_clean_results(path: Path) -> dict[str, Any]:
    """results.json: strict UTF-8, strict JSON, no control character in any string."""
    doc = json.loads(path.read_bytes().decode("utf-8"), strict=True)
    for text in strings(doc):
        assert not dirty(text), f"{dirty(text)} in {text[:200]!r}"
        text.encode("utf-8")
    return doc  # type: ignore[no-any-return]


def assert_clean_terminal(text: str) -> None:
    """Nothing a terminal would act on, and exactly one total, the real one, on its own line."""
    assert not dirty(text, keep="\n"), dirty(text, keep="\n")
    totals = [line for line in text.splitlines() if line.startswith("Total:")]
    assert len(totals) <= 1, totals


def assert_clean_everywhere(hostile: Hostile, doc: Graded, sub: Path) -> None:
    """results.json and output.txt of the graded run, and the terminal of `check` and `grade`."""
    assert_clean_results(hostile.out / "attack" / "results.json")
    assert not dirty(doc.log), "output.txt holds control characters"
    (hostile.out / "attack" / "output.txt").read_bytes().decode("utf-8")
    checked = cli("check", sub)
    assert checked.returncode == 1  # a check failed; the command itself did not crash
    shown = terminal(checked)
    assert_clean_terminal(shown)
    assert shown.splitlines()[-1].startswith("Total: ") and FAKE_TOTAL not in shown.splitlines()
    graded = cli("grade", sub, "--out", str(hostile.tmp / "cli-out"))
    assert graded.returncode == 0
    assert_clean_terminal(terminal(graded))
    assert_clean_results(hostile.tmp / "cli-out" / "attack" / "results.json")


# -- escapes that drive the terminal ---------------------------------------------------------------

ANSI = r"\x1b[2J\x1b[H\x1b[32m" + FAKE_TOTAL + r"\x1b[0m\r\n" + FAKE_TOTAL + r"\x9b2J\x07"
"""Python source of a string that clears the screen, homes the cursor and prints a fake total."""


def test_ansi_escapes_and_a_fake_total_in_an_exception_message_and_printed_output(
    hostile: Hostile,
) -> None:
    sub = hostile.submission(in_affine_forward=f'print("{ANSI}")\nraise ValueError("{ANSI}")')
    (doc,) = hostile.grade(sub)
    assert doc.score <= hostile.base
    # (b): the student's text is reported, with every control character written as an escape.
    escaped = r"\x1b[2J\x1b[H\x1b[32mTotal: 59 / 59\x1b[0m\r\nTotal: 59 / 59\x9b2J\x07"
    doc.names(FIRST, f"raised ValueError: {escaped}", status="error")
    # Printed output keeps its newlines (and only them, and tabs).
    doc.names(FIRST, "Your code printed:\n" + escaped.replace(r"\r\n", "\\r\n") + "\n")
    assert_clean_everywhere(hostile, doc, sub)


# -- text that is not valid Unicode ----------------------------------------------------------------

SURROGATES = r"""
import os, sys
os.write(1, b"NNG-BYTES \xff\xfe \xed\xa0\x80 \x00 \x1b[2J end\n")
try:
    sys.stdout.write("NNG-SURROGATE \ud800\n")
except UnicodeEncodeError:
    sys.stdout.buffer.write(b"NNG-SURROGATE \xed\xa0\x80\n")
sys.stdout.flush()
raise type("Evil\x1b[31m\u202e", (Exception,), {})("\ud800 lone \x00 nul \udfff")
"""


def test_lone_surrogates_invalid_utf8_and_nul_bytes(hostile: Hostile) -> None:
    sub = hostile.submission(in_affine_forward=SURROGATES)
    (doc,) = hostile.grade(sub)
    assert doc.score <= hostile.base
    # (b): reported with U+FFFD for what is not Unicode and escapes for NUL and ESC.
    doc.names(FIRST, "raised Evil\\x1b[31m\\u202e: \ufffd lone \\x00 nul \ufffd", status="error")
    doc.names(FIRST, "NNG-BYTES \ufffd\ufffd \ufffd", "\\x00 \\x1b[2J end", "NNG-SURROGATE \ufffd")
    assert_clean_everywhere(hostile, doc, sub)


# -- names the student chose, and Unicode that reorders or breaks lines ----------------------------

FC_NET = "cs231n/classifiers/fc_net.py"
PARAMS = r"""

_nng_init = FullyConnectedNet.__init__


def _nng_patched_init(self, *args, **kwargs):
    _nng_init(self, *args, **kwargs)
    print("NNG-BIDI \u202eTotal: 59 / 59\u202c\u2028Total: 59 / 59\u2029\x85NEL")
    self.params["\x1b[2J\u202e" + "Total: 59 / 59\ud800"] = np.zeros(1)


FullyConnectedNet.__init__ = _nng_patched_init
"""


def test_student_chosen_names_and_line_breaking_or_reordering_unicode(hostile: Hostile) -> None:
    fc_net = (BASE / FC_NET).read_text() + PARAMS
    sub = hostile.submission(files={FC_NET: fc_net})
    (doc,) = hostile.grade(sub)
    assert doc.score <= hostile.base
    # (b): the extra parameter is named, escaped; the printed line shows the escapes.
    key = "\\x1b[2J\\u202eTotal: 59 / 59\ufffd"  # sanitized on arrival, then quoted by the check
    doc.names("fc_init", f"unexpected {[key]!r}", status="failed")
    doc.names(
        "fc_init", "NNG-BIDI \\u202eTotal: 59 / 59\\u202c\\u2028Total: 59 / 59\\u2029\\x85NEL"
    )
    assert_clean_everywhere(hostile, doc, sub)
