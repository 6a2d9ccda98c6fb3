"""Student text made safe on arrival: no control characters, no surrogates, valid UTF-8."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from grader import sanitize
from grader.child.protocol import Handle

ESC = "\x1b"
NASTY = [
    f"{ESC}[2J{ESC}[HTotal: 59 / 59",  # clear the screen, home the cursor, fake a total
    "\rTotal: 59 / 59",  # carriage return: overwrite the line
    "\x00nul\x07bell\x08back\x7fdel",
    "\x9b31mC1 CSI\x85NEL\x9d",  # C1 controls (CSI, next line, OSC)
    "\ud800 lone \udfff surrogates",
    "line\u2028separator\u2029paragraph",
    "\u202eevil override\u202c \u2066isolate\u2069",
]


def is_clean(text: str, keep: str = "") -> bool:
    """No control, separator or bidi character (but ``keep``) and no surrogate."""
    return all(
        ch in keep
        or (
            unicodedata.category(ch) not in ("Cc", "Cs", "Zl", "Zp")
            and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069")
        )
        for ch in text
    )


@pytest.mark.parametrize("raw", NASTY)
def test_text_escapes_every_control_and_replaces_surrogates(raw: str) -> None:
    clean = sanitize.text(raw)
    assert is_clean(clean)
    clean.encode("utf-8")  # strict: would raise on a surrogate
    assert json.loads(json.dumps(clean, ensure_ascii=False), strict=True) == clean


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f"{ESC}[2J", "\\x1b[2J"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
        ("\ud800x", "\ufffdx"),
        ("\u2028\u202e", "\\u2028\\u202e"),
        ("plain text, ünïcode and emoji 🙂", "plain text, ünïcode and emoji 🙂"),
    ],
)
def test_escapes_are_visible_and_plain_text_is_unchanged(raw: str, clean: str) -> None:
    assert sanitize.text(raw) == clean


def test_printed_keeps_newline_and_tab_only() -> None:
    assert sanitize.printed(f"a\nb\tc\r{ESC}[31m\x00") == "a\nb\tc\\r\\x1b[31m\\x00"
    assert is_clean(sanitize.printed("".join(NASTY) + "\n\t"), keep="\n\t")


@pytest.mark.parametrize("raw", [*NASTY, "".join(NASTY), "\\x1b already escaped"])
@pytest.mark.parametrize("clean", [sanitize.text, sanitize.printed])
def test_sanitizing_twice_changes_nothing(raw: str, clean: object) -> None:
    assert callable(clean)
    once = clean(raw)
    assert clean(once) == once


def test_decode_replaces_invalid_utf8() -> None:
    data = b"ok \xff\xfe \xed\xa0\x80 \xc3 " + ESC.encode() + b"[2J\x00 end\n"
    text = sanitize.decode(data)
    assert text.startswith("ok \ufffd\ufffd ") and text.endswith("\\x1b[2J\\x00 end\n")
    assert is_clean(text, keep="\n")
    text.encode("utf-8")


def test_value_sanitizes_every_string_and_leaves_arrays_alone() -> None:
    array = np.arange(3.0)
    raw = {
        f"{ESC}key": [f"{ESC}[2J", ("\ud800", 1.5, None, True), {"inner\x00": array}],
        "handle": Handle("h1\x00", f"Evil{ESC}[31m"),
    }
    clean = sanitize.value(raw)
    assert list(clean) == ["\\x1bkey", "handle"]
    listed, handle = clean["\\x1bkey"], clean["handle"]
    assert listed[0] == "\\x1b[2J" and listed[1] == ("\ufffd", 1.5, None, True)
    assert listed[2]["inner\\x00"] is array
    assert isinstance(handle, Handle)
    assert (handle.id, handle.type_name) == ("h1\\x00", "Evil\\x1b[31m")


def test_a_megabyte_of_printed_output_keeps_everything_but_the_controls() -> None:
    text = ("x" * 1000 + "\n") * 1000 + ESC
    assert sanitize.printed(text) == text[:-1] + "\\x1b"
