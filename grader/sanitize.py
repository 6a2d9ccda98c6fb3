"""Student text made safe to store, print and serialise: applied once, where it arrives.

Everything the student's process says (the fields of its replies, the strings inside returned
values, what it printed) is student-controlled text. ``grader.sandbox.session`` passes it through
here on arrival in the grading process, so every later stage and view handles text that:

* is valid Unicode: undecodable bytes and lone surrogates (``'\\ud800'``, which strict JSON
  parsers and UTF-8 terminals refuse) become U+FFFD;
* holds no control characters: C0 (including ESC, so no ANSI sequences that clear a screen or
  move the cursor), DEL, C1, the Unicode line and paragraph separators and the bidirectional
  overrides (which reorder what a terminal shows) are written as visible escapes (``\\x1b``).
  ``printed`` keeps newline and tab, which printed output and tracebacks need.

The result never changes when sanitized again (``text(text(s)) == text(s)``).
"""

from __future__ import annotations

import re
from typing import Any

from grader.child.protocol import Handle

__all__ = ["decode", "printed", "text", "value"]

_CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_SURROGATE = "\ud800-\udfff"
_IN_TEXT = re.compile(f"[{_CONTROL}{_SURROGATE}]")
_IN_PRINTED = re.compile(f"(?![\n\t])[{_CONTROL}{_SURROGATE}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
REPLACEMENT = "\ufffd"


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return REPLACEMENT
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(raw: str) -> str:
    """One line of student text: every control character escaped, surrogates replaced."""
    return _IN_TEXT.sub(_escape, raw)


def printed(raw: str) -> str:
    """Multi-line student text (printed output, a traceback): ``text`` keeping newline and tab."""
    return _IN_PRINTED.sub(_escape, raw)


def decode(data: bytes) -> str:
    """Bytes the student's process wrote, as ``printed`` text (invalid UTF-8 replaced)."""
    return printed(data.decode("utf-8", "replace"))


def value(raw: Any) -> Any:
    """A decoded protocol value with every string in it passed through ``text``.

    Dict keys, strings at any depth and a handle's type name are student text; arrays, numbers
    and the rest are returned as they are (the protocol carries only numeric arrays).
    """
    if isinstance(raw, str):
        return text(raw)
    if isinstance(raw, list):
        return [value(v) for v in raw]
    if isinstance(raw, tuple):
        return tuple(value(v) for v in raw)
    if isinstance(raw, dict):
        return {text(str(k)): value(v) for k, v in raw.items()}
    if isinstance(raw, Handle):
        return Handle(text(raw.id), text(raw.type_name))
    return raw
