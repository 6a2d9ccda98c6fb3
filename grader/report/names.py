"""Submission names made safe for where they go: a folder under OUT, results.json, the terminal.

A submission's name is a student's folder or zip name (an LMS export holds whatever the student
uploaded): it can be longer than a file name may be (255 bytes), hold bytes that are not UTF-8,
control characters, or characters that look like ``/``. Three views of it:

* ``slug``, the folder its files are written to: printable ASCII only (letters lose their accents,
  every run of other characters becomes ``_``), none of ``/ \\ : * ? " < > |`` (so OUT can be
  copied to any disk), no leading ``.``, ``-`` or space, no trailing ``.`` or space, at most
  ``MAX_BYTES`` bytes. A name that already is such a slug is its own folder, so ordinary names
  (every bundled example's) keep their folders. A name that had to change gets ``-`` and 8 hex
  digits of the SHA-256 of its bytes: two names that clean to the same text (``Müller`` and
  ``Muller``) stay apart, and a student's folder is the same in every batch.
* ``readable``, the original name as valid Unicode (kept in results.json as ``submission``):
  exactly the name, except that a byte that is not UTF-8 is written ``\\xNN``.
* ``shown``, the name on the instructor's terminal: ``readable``, with control characters
  escaped (``grader.sanitize.text``) and every non-ASCII character that is not a letter escaped
  (``\\u2215``), so that no name moves the cursor, clears a line or forges a ``59.0/59.0`` with a
  look-alike slash; cut at ``SHOWN_CHARS``.

``folders`` gives a batch unique folders, ignoring case (OUT may sit on a case-blind disk).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from grader import sanitize

__all__ = ["MAX_BYTES", "SHOWN_CHARS", "folders", "readable", "shown", "slug"]

MAX_BYTES = 100
"""Longest folder name written under OUT (file systems allow 255 bytes; this leaves room for
whatever an instructor's tools add, such as a zip of OUT inside another folder)."""
SHOWN_CHARS = 60
"""Longest name shown on the terminal (the whole name is in results.json)."""
_HASH_HEX = 8
_REFUSED = re.compile(r'[^\x20-\x7e]+|[/\\:*?"<>|]+')
"""Runs of characters a slug may not hold: anything but printable ASCII, and the characters that
some file system refuses."""
_NOT_FIRST = ".- "
_NOT_LAST = ". "


def name_bytes(name: str) -> bytes:
    """The name's bytes as they were on disk (``os.fsencode``: undecodable bytes come back)."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no undecodable byte stands for
        return name.encode("utf-8", "surrogatepass")


def readable(name: str) -> str:
    """The name as valid Unicode: unchanged, but for ``\\xNN`` in place of a byte not UTF-8."""
    return name_bytes(name).decode("utf-8", "backslashreplace")


def _base(name: str) -> str:
    """The name in the slug alphabet with safe ends, before the rule on its length."""
    letters = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    return _REFUSED.sub("_", letters).lstrip(_NOT_FIRST).rstrip(_NOT_LAST)


def _with_suffix(base: str, suffix: str) -> str:
    """``base`` cut so that ``base + suffix`` fits ``MAX_BYTES`` (both are ASCII)."""
    head = base[: MAX_BYTES - len(suffix)].rstrip(_NOT_LAST)
    return (head or "submission") + suffix


def _digest(name: str, n: int = 1) -> str:
    """8 hex digits of the name's bytes (and of ``n``, for a later try after a collision)."""
    data = name_bytes(name) if n == 1 else name_bytes(name) + f"\0{n}".encode()
    return hashlib.sha256(data).hexdigest()[:_HASH_HEX]


def slug(name: str) -> str:
    """The folder of ``name`` alone: ``name`` itself when it is safe, else a clean ASCII slug
    with ``-`` and a hash of the name (see the module's docstring)."""
    base = _base(name)
    if base == name and 0 < len(base) <= MAX_BYTES:
        return name
    return _with_suffix(base, f"-{_digest(name)}")


def folders(names: Sequence[str]) -> list[str]:
    """One unique folder per name, in order (unique ignoring case).

    Names that are their own slug are placed first, so an ordinary name keeps its folder
    whatever else the batch holds; a slug already taken (by a student who named a folder after
    another's slug, or a name repeated) tries hashes of the name with a counter until one is free.
    """
    slugs = [slug(n) for n in names]
    out: dict[int, str] = {}
    taken: set[str] = set()
    own_first = sorted(range(len(names)), key=lambda i: slugs[i] != names[i])
    for i in own_first:
        candidate, n = slugs[i], 1
        while candidate.casefold() in taken:
            n += 1
            candidate = _with_suffix(_base(names[i]), f"-{_digest(names[i], n)}")
        taken.add(candidate.casefold())
        out[i] = candidate
    return [out[i] for i in range(len(names))]


def shown(name: str) -> str:
    """The name for the terminal: printable ASCII and letters only, at most ``SHOWN_CHARS``."""
    text = sanitize.text(unicodedata.normalize("NFC", readable(name)))
    safe = "".join(
        c
        if c.isascii() or unicodedata.category(c).startswith("L")
        else c.encode("unicode_escape").decode("ascii")
        for c in text
    )
    return safe if len(safe) <= SHOWN_CHARS else safe[: SHOWN_CHARS - 3] + "..."
