"""Names no file system or terminal takes as they are: intake keeps them and never stops on them.

A student's folder or zip name, and the names of the files inside, can be longer than a file name
may be, hold bytes that are not UTF-8 or control characters. Intake keeps the student's name as
found (the views make it safe, ``grader.report.names``), fails only the student whose own file
cannot be written, and escapes what its messages quote.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from grader.intake import collect, zip_bytes
from tests.grader.intake.helpers import LAYERS, by_name, export, inner, write_zip

LONG = "é" * 200
"""A student folder name of 400 bytes: no file system takes it as one name."""
ESCAPES = "evil\x1b[2K\rbob 59.0\u221559.0"


def test_an_export_keeps_student_names_no_disk_would_take(tmp_path: Path) -> None:
    path = export(
        tmp_path / "export.zip",
        {
            f"{LONG}/cs231n/layers.py": LAYERS,
            f"{ESCAPES}.zip": inner(),
            "zed/cs231n/layers.py": LAYERS,
        },
    )
    subs = by_name(collect([path], tmp_path / "work"))
    assert set(subs) == {LONG, ESCAPES, "zed"}
    for sub in subs.values():
        assert sub.error is None and sub.root is not None
        assert (sub.root / "cs231n" / "layers.py").read_bytes() == LAYERS


def test_a_file_name_too_long_fails_only_its_student(tmp_path: Path) -> None:
    path = export(
        tmp_path / "export.zip",
        {
            "amy.zip": zip_bytes({"cs231n/layers.py": LAYERS, "cs231n/" + "a" * 300: b""}),
            "bob/cs231n/layers.py": LAYERS,
            f"bob/cs231n/{'b' * 300}.py": LAYERS,
            "zed/cs231n/layers.py": LAYERS,
        },
    )
    subs = by_name(collect([path], tmp_path / "work"))
    for name in ("amy", "bob"):
        error = subs[name].error or ""
        assert subs[name].root is None and "File name too long" in error, error
        assert len(error) <= 400  # the message names the file without quoting all of it
    assert subs["zed"].error is None and subs["zed"].root is not None


def test_names_that_are_not_utf8_and_hold_escapes_are_taken_in(tmp_path: Path) -> None:
    """An export unpacked on disk keeps a student's raw bytes; messages quoting a file name
    escape its control characters and undecodable bytes."""
    top = os.fsencode(tmp_path / "export")
    for student in (b"caf\xe9", b"dan"):
        folder = os.path.join(top, student, b"cs231n")
        os.makedirs(folder)
        Path(os.fsdecode(os.path.join(folder, b"layers.py"))).write_bytes(LAYERS)
        os.symlink(b"/etc/passwd", os.path.join(folder, b"\xff\x1b[2J"))
    subs = by_name(collect([Path(os.fsdecode(top))], tmp_path / "work"))
    assert set(subs) == {os.fsdecode(b"caf\xe9"), "dan"}
    for sub in subs.values():
        assert sub.error is None and sub.root is not None
        (note,) = sub.notes
        assert "\\x1b[2J" in note and "\x1b" not in note and "\ufffd" in note
        note.encode("utf-8")  # no lone surrogate left in the message


def test_an_input_path_too_long_to_look_up_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (sub,) = collect([tmp_path / ("x" * 300)], tmp_path / "work")
    assert sub.root is None and "not a folder or a .zip" in (sub.error or "")
    assert sub.name == "x" * 300


def test_a_zip_name_flagged_utf8_but_not_is_that_inputs_error(tmp_path: Path) -> None:
    """The zip format says the name is UTF-8 and it is not: a broken zip, for that input only."""
    path = write_zip(tmp_path / "liar.zip", [("cs231n/layers.py", LAYERS)])
    data = bytearray(path.read_bytes().replace(b"cs231n/layers.py", b"cs231n/laye\xffs.py"))
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(header) + flags_at
        data[at : at + 2] = struct.pack("<H", 0x800)  # "the name is UTF-8"
    path.write_bytes(bytes(data))
    fine = write_zip(tmp_path / "ok.zip", [("layers.py", LAYERS)])
    liar, ok = collect([path, fine], tmp_path / "work")
    assert liar.root is None and "broken or unsupported" in (liar.error or "")
    assert ok.error is None and ok.root is not None
