"""Submission names as folders, in results.json and on the terminal (``grader.report.names``)."""

from __future__ import annotations

import errno
import json
import os
import string
from pathlib import Path

import pytest

from grader.report.names import MAX_BYTES, SHOWN_CHARS, folders, readable, shown, slug
from grader.report.render import render
from grader.results import SubmissionResult
from tests.bundled import bundled
from tests.grader.report.test_render import VIEWS

HOSTILE = [
    "é" * 200,  # 400 bytes: longer than any file name may be
    "x" * (MAX_BYTES + 1),
    os.fsdecode(b"caf\xe9"),  # a folder name that is not UTF-8, as os.listdir returns it
    "evil\x1b[2K\rbob  59.0\u221559.0",  # ANSI escapes and a look-alike slash
    "a/b",
    "a\\b",
    'con:*?"<>|',
    ".hidden",
    "..",
    ".",
    "-rf",
    " padded ",
    "dot.",
    "",
    "李明",
    "\u202eevil",  # a right-to-left override
    "\ud800",  # a lone surrogate no byte stands for
]
SLUG_CHARS = set(string.printable) - set("\t\n\r\x0b\x0c") - set('/\\:*?"<>|')


@pytest.mark.parametrize("name", HOSTILE)
def test_a_slug_is_a_safe_folder_name(name: str) -> None:
    folder = slug(name)
    assert folder and len(folder.encode()) <= MAX_BYTES
    assert set(folder) <= SLUG_CHARS, folder
    assert folder[0] not in ".- " and folder[-1] not in ". "


@pytest.mark.parametrize("name", HOSTILE)
def test_a_changed_name_gets_a_stable_hash(name: str) -> None:
    folder = slug(name)
    assert folder != name
    digest = folder.rpartition("-")[2]
    assert len(digest) == 8 and set(digest) <= set(string.hexdigits)
    assert slug(name) == folder  # the same folder in every batch


def test_ordinary_names_are_their_own_folders() -> None:
    ordinary = [
        "alice",
        "alice-2",
        "Alice Smith_123_assignsubmission_file_",
        "x" * MAX_BYTES,
        "b.o.b",
        "_",
    ]
    for name in ordinary:
        assert slug(name) == name
    assert folders(ordinary) == ordinary


def test_every_bundled_example_keeps_its_folder() -> None:
    """The goldens and every instructor's scripts name these folders."""
    for paths in bundled().values():
        for path in paths:
            assert slug(path.name) == path.name


def test_names_that_clean_alike_get_different_folders() -> None:
    assert slug("Müller").startswith("Muller-")
    assert slug("Müller") != slug("Mu\u0308ller")  # composed and decomposed: different bytes
    assert slug(os.fsdecode(b"caf\xe9")) != slug(os.fsdecode(b"caf\xe8"))
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert slug(long_a) != slug(long_b)


def test_a_batch_gets_unique_folders_ignoring_case() -> None:
    names = ["Müller", "Muller", "alice", "ALICE", "Müller"]
    got = folders(names)
    assert len({f.casefold() for f in got}) == len(names)
    assert got[1] == "Muller" and got[2] == "alice"


def test_a_name_taking_anothers_slug_does_not_take_its_place() -> None:
    """A student who names a folder after another's slug keeps it; the other moves on, and both
    are written; whatever the order, ordinary names keep their folders."""
    squatter = slug("Müller")
    for names in (["Müller", squatter], [squatter, "Müller"]):
        got = dict(zip(names, folders(names), strict=True))
        assert got[squatter] == squatter
        assert got["Müller"] != squatter and got["Müller"].startswith("Muller-")
        assert len(got["Müller"]) <= MAX_BYTES


def test_readable_keeps_the_name_and_writes_undecodable_bytes_as_escapes() -> None:
    assert readable("Müller") == "Müller"
    assert readable("evil\x1b[2K") == "evil\x1b[2K"  # JSON escapes it; the name is kept
    assert readable(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert readable("\ud800").encode("utf-8")  # valid Unicode, whatever the name held


def test_shown_escapes_what_could_forge_a_terminal_line() -> None:
    text = shown("evil\x1b[2K\rbob  59.0\u221559.0")
    assert text == "evil\\x1b[2K\\rbob  59.0\\u221559.0"
    assert text.isascii() and text.isprintable()
    assert shown("\u202eevil") == "\\u202eevil"
    assert shown(os.fsdecode(b"caf\xe9")) == "caf\\xe9"


def test_shown_keeps_letters_and_cuts_long_names() -> None:
    assert shown("Müller") == "Müller"
    assert shown("Mu\u0308ller") == "Müller"  # composed for the terminal
    assert shown("李明") == "李明"
    assert shown("\uff0f") == "\\uff0f"  # a fullwidth slash is no letter
    long = shown("x" * 1000)
    assert len(long) == SHOWN_CHARS and long.endswith("...")


def _result(name: str, log: str = "") -> SubmissionResult:
    return SubmissionResult(
        name=name, assignment="a", detection="d", checks=(), isolation="process", log=log
    )


@pytest.mark.parametrize("name", ["é" * 200, os.fsdecode(b"caf\xe9"), "evil\x1b[2K"])
def test_render_writes_to_the_slug_and_keeps_the_name(tmp_path: Path, name: str) -> None:
    path = render(_result(name, log="printed"), tmp_path)
    assert path == tmp_path / slug(name) / "results.json"
    assert json.loads(path.read_text(encoding="ascii"))["extra_data"]["submission"] == readable(
        name
    )
    assert (path.parent / "output.txt").read_text() == "printed"


def test_a_write_that_fails_midway_leaves_the_last_files_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while rewriting results.json never leaves half a file for Gradescope."""
    path = render(_result("s", log="first run"), tmp_path)
    before = path.read_text()

    def disk_full(self: Path, text: str, *args: object, **kwargs: object) -> int:
        with open(self, "w") as f:
            f.write(text[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        render(_result("s", log="second run"), tmp_path)
    monkeypatch.undo()
    assert path.read_text() == before
    assert (path.parent / "output.txt").read_text() == "first run"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(VIEWS)
