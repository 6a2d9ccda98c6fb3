"""LMS exports as they come: Moodle folders holding a student's zip, Canvas's flat files, exports
of one student, an export that does not open, and an input that is nothing but a zip."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake import ExtractLimits, collect, lms_identity, zip_bytes
from tests.grader.intake.helpers import (
    LAYERS,
    MOODLE,
    by_name,
    bytes_under,
    inner,
    tree,
    unpacked,
    write_zip,
)

ALICE, BOB, CAROL = (
    f"{name}{MOODLE}" for name in ("Alice Smith_101", "Bob Jones-Lee_102", "Carol O'Neil_103")
)
CS231N = zip_bytes({"cs231n/layers.py": LAYERS})
"""A student's ``assignment1.zip`` as collectSubmission makes it."""


def stored(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` without compression: a zip inside it shows its own directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def cut_short() -> bytes:
    """A zip holding a stored zip, cut before its own directory: what is left ends inside the
    stored zip, whose directory Python's zipfile finds instead."""
    whole = stored({"a.zip": stored({"cs231n/layers.py": LAYERS}), "b.txt": b"x" * 100})
    return whole[: whole.rindex(b"PK\x05\x06")]


def moodle_export(path: Path, carol: bytes = b"PK not a zip") -> Path:
    """Moodle's "download all submissions": Alice uploaded a zip, Bob loose files, Carol a zip
    that does not open (``carol``)."""
    return write_zip(
        path,
        [
            (f"{ALICE}/assignment1.zip", zip_bytes({"assignment1/cs231n/layers.py": LAYERS})),
            (f"{BOB}/cs231n/layers.py", LAYERS),
            (f"{BOB}/knn.ipynb", b"{}"),
            (f"{CAROL}/assignment1.zip", carol),
        ],
        zipfile.ZIP_STORED,  # as Moodle stores its students' zips: their directories show
    )


# ---- Moodle: a folder per student, often holding the zip they uploaded ---------------------------


@pytest.mark.parametrize(
    "carol, expected",
    [
        (b"PK not a zip", "(File is not a zip file)"),
        (b"", "(File is not a zip file)"),
        (cut_short(), "(it is cut short: its directory is missing"),
    ],
    ids=["garbage", "empty", "cut-short"],
)
@pytest.mark.parametrize("as_folder", [False, True], ids=["zip", "unpacked"])
def test_a_moodle_export_grades_each_students_upload(
    tmp_path: Path, as_folder: bool, carol: bytes, expected: str
) -> None:
    export = moodle_export(tmp_path / "submissions.zip", carol)
    if as_folder:
        export = unpacked(export, tmp_path / "submissions")
    alice, bob, carol_sub = collect([export], tmp_path / "work")
    assert [alice.name, bob.name, carol_sub.name] == [ALICE, BOB, CAROL]
    assert alice.error is None and tree(alice.root) == ["assignment1/cs231n/layers.py"]
    assert alice.origin == f"{export}:{ALICE}"
    assert bob.error is None and tree(bob.root) == ["cs231n/layers.py", "knn.ipynb"]
    assert carol_sub.root is None and carol_sub.error is not None
    assert carol_sub.error.startswith("assignment1.zip could not be opened: the zip file is broken")
    assert expected in carol_sub.error


def test_moodles_file_and_online_text_folders_are_one_student(tmp_path: Path) -> None:
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            (f"{ALICE}/assignment1.zip", CS231N),
            (f"{ALICE}/.DS_Store", b"\0"),
            (f"{ALICE}/._assignment1.zip", b"\0"),  # macOS's twin: hidden, not a second zip
            ("Alice Smith_101_assignsubmission_onlinetext_/onlinetext.html", b"<p>done</p>"),
            (f"{BOB}/assignment1.zip", CS231N),
        ],
    )
    alice, bob = collect([export], tmp_path / "work")
    assert (alice.name, bob.name) == (ALICE, BOB)
    assert tree(alice.root) == tree(bob.root) == ["cs231n/layers.py"]
    (note,) = alice.notes
    assert note == "left out onlinetext.html: the uploaded assignment1.zip is the submission"


def test_one_students_folders_that_collide_each_keep_their_folder(tmp_path: Path) -> None:
    online = "Alice Smith_101_assignsubmission_onlinetext_"
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            (f"{ALICE}/cs231n/layers.py", LAYERS),
            (f"{online}/cs231n/layers.py", b"y = 2\n"),
            (f"{BOB}/cs231n/layers.py", LAYERS),
        ],
    )
    alice, bob = collect([export], tmp_path / "work")
    assert tree(alice.root) == [f"{ALICE}/cs231n/layers.py", f"{online}/cs231n/layers.py"]
    assert (alice.root / online / "cs231n/layers.py").read_bytes() == b"y = 2\n"
    assert tree(bob.root) == ["cs231n/layers.py"]


def test_a_student_who_uploaded_several_zips_is_told_which_were_left_packed(
    tmp_path: Path,
) -> None:
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            (f"{ALICE}/part1.zip", CS231N),
            (f"{ALICE}/part2.zip", CS231N),
            (f"{BOB}/assignment1.zip", zip_bytes({"inner.zip": CS231N})),
            (f"{CAROL}/assignment1.zip", CS231N),
        ],
    )
    subs = by_name(collect([export], tmp_path / "work"))
    assert "no Python files or notebooks found" in subs[ALICE].error
    assert "2 zip files left packed (part1.zip, part2.zip)" in subs[ALICE].error
    assert "1 zip file left packed (inner.zip)" in subs[BOB].error  # one level is unpacked
    assert subs[CAROL].error is None


# ---- an uploaded zip is held to every rule of a zip, within the export's budget ------------------


def _refused_member(member: str) -> zipfile.ZipInfo | str:
    if member != "link":
        return member
    link = zipfile.ZipInfo("cs231n/optim.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return link


@pytest.mark.parametrize(
    "member, expected",
    [
        ("link", "symbolic links are not allowed"),
        ("../escaped.py", "path escapes the submission folder"),
        ("/escaped.py", "absolute path"),
    ],
)
def test_an_uploaded_zip_is_held_to_the_rules_of_any_zip(
    tmp_path: Path, member: str, expected: str
) -> None:
    upload = write_zip(
        tmp_path / "upload.zip",
        [("cs231n/layers.py", LAYERS), (_refused_member(member), b"/etc/passwd")],
    )
    export = write_zip(
        tmp_path / "submissions.zip",
        [(f"{ALICE}/assignment1.zip", upload.read_bytes()), (f"{BOB}/cs231n/layers.py", LAYERS)],
    )
    subs = by_name(collect([export], tmp_path / "work"))
    assert subs[ALICE].root is None and expected in subs[ALICE].error
    assert subs[BOB].error is None
    assert not [p for p in (tmp_path / "work").rglob("*") if p.is_symlink()]
    assert not list(tmp_path.rglob("escaped.py"))


def test_an_oversized_upload_fails_only_its_student(tmp_path: Path, keep_partial: None) -> None:
    limits = ExtractLimits(total_bytes=1024**2, intake_bytes=64 * 1024)
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            (f"{ALICE}/assignment1.zip", inner()),
            (f"{BOB}/assignment1.zip", inner(big=bytes(80_000))),
            (f"{CAROL}/cs231n/layers.py", LAYERS),
        ],
    )
    subs = by_name(collect([export], tmp_path / "work", limits=limits))
    assert subs[BOB].root is None and "expands to more than" in subs[BOB].error
    assert "share of the 64 KiB allowed for one input of 3 submissions" in subs[BOB].error
    assert subs[ALICE].error is None and subs[CAROL].error is None
    assert bytes_under(tmp_path / "work") <= limits.intake_bytes


def test_student_names_and_upload_names_are_kept_and_messages_escaped(tmp_path: Path) -> None:
    evil = f"Ev\x1b[2Jil_7{MOODLE}"
    export = write_zip(
        tmp_path / "submissions.zip",
        [(f"{evil}/a\x1b[2Jb.zip", b"nope"), (f"{BOB}/assignment1.zip", CS231N)],
    )
    subs = by_name(collect([export], tmp_path / "work"))
    assert set(subs) == {evil, BOB}
    error = subs[evil].error or ""
    assert error.startswith("a\\x1b[2Jb.zip could not be opened") and "\x1b" not in error


# ---- Canvas: flat files named lastfirst[_late]_<user id>_<attachment id>_<file> ------------------


@pytest.mark.parametrize("as_folder", [False, True], ids=["zip", "unpacked"])
def test_a_canvas_export_is_one_student_per_lms_identity(tmp_path: Path, as_folder: bool) -> None:
    export = write_zip(
        tmp_path / "submissions.zip",
        [
            ("smithalice_101_555_assignment1.zip", CS231N),
            ("smithalice_101_556_report.pdf", b"%PDF-1.4"),
            ("leebob_late_102_557_layers.py", LAYERS),
            ("leebob_late_102_558_knn.ipynb", b"{}"),
            ("oneilcarol_103_559_assignment1.zip", b"PK not a zip"),
        ],
    )
    if as_folder:
        export = unpacked(export, tmp_path / "submissions")
    bob, carol, alice = collect([export], tmp_path / "work")
    assert [lms_identity(s.name) for s in (alice, bob, carol)] == [
        ("smithalice", "101"),
        ("leebob", "102"),
        ("oneilcarol", "103"),
    ]
    assert alice.name == "smithalice_101_555_assignment1" and tree(alice.root) == [
        "cs231n/layers.py"
    ]
    assert alice.notes == ("left out report.pdf: the uploaded assignment1.zip is the submission",)
    assert bob.error is None and tree(bob.root) == ["knn.ipynb", "layers.py"]
    assert carol.root is None and carol.name == "oneilcarol_103_559_assignment1"
    assert (carol.error or "").startswith("assignment1.zip could not be opened")


def test_a_students_own_files_named_like_canvas_files_are_not_renamed(tmp_path: Path) -> None:
    eve = write_zip(tmp_path / "eve.zip", [("hw_1_2_notes.py", LAYERS)])
    (sub,) = collect([eve], tmp_path / "work")
    assert sub.name == "eve" and tree(sub.root) == ["hw_1_2_notes.py"]


# ---- an export of one student keeps the student's name ------------------------------------------


@pytest.mark.parametrize("wrapper", ["", "submissions/"], ids=["top", "in-a-folder"])
@pytest.mark.parametrize("upload", ["zip", "files"])
@pytest.mark.parametrize("as_folder", [False, True], ids=["zip", "unpacked"])
def test_a_single_student_export_keeps_the_students_name(
    tmp_path: Path, as_folder: bool, upload: str, wrapper: str
) -> None:
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = (
        [(f"{wrapper}{ALICE}/assignment1.zip", CS231N)]
        if upload == "zip"
        else [(f"{wrapper}{ALICE}/cs231n/layers.py", LAYERS)]
    )
    export = write_zip(tmp_path / "export.zip", members)
    if as_folder:
        export = unpacked(export, tmp_path / "export")
    (sub,) = collect([export], tmp_path / "work")
    assert sub.name == ALICE and sub.error is None
    assert sub.origin == f"{export}:{ALICE}" and tree(sub.root) == ["cs231n/layers.py"]


def test_a_single_student_canvas_export_keeps_the_students_name(tmp_path: Path) -> None:
    export = write_zip(tmp_path / "export.zip", [("smithalice_101_555_assignment1.zip", CS231N)])
    (sub,) = collect([export], tmp_path / "work")
    assert sub.name == "smithalice_101_555_assignment1" and tree(sub.root) == ["cs231n/layers.py"]


# ---- an export that does not open is one problem, named after it --------------------------------


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("end-lost", "(it is cut short: its directory is missing"),
        ("halved", ""),
        ("not-a-zip", "(File is not a zip file)"),
    ],
)
def test_a_class_export_that_does_not_open_is_one_error(
    tmp_path: Path, damage: str, expected: str
) -> None:
    whole = moodle_export(tmp_path / "whole.zip").read_bytes()
    data = {
        "end-lost": whole[: whole.rindex(b"PK\x05\x06")],  # the download stopped near the end
        "halved": whole[: len(whole) // 2],
        "not-a-zip": b"<html>Your session has expired</html>",
    }[damage]
    export = tmp_path / "submissions.zip"
    export.write_bytes(data)
    (sub,) = collect([export], tmp_path / "work")
    assert sub.name == "submissions" and sub.root is None and sub.origin == str(export)
    assert (sub.error or "").startswith("submissions.zip could not be opened: the zip file is")
    assert expected in (sub.error or "")
    assert not [p for p in (tmp_path / "work").rglob("*") if p.is_file()]


# ---- an input that holds nothing but a zip is that zip ------------------------------------------


def test_an_input_holding_only_a_zip_is_taken_as_that_zip(tmp_path: Path) -> None:
    alice = write_zip(tmp_path / "alice.zip", [("assignment1.zip", CS231N)])
    (sub,) = collect([alice], tmp_path / "w1")
    assert sub.name == "alice" and sub.origin == f"{alice}:assignment1.zip"
    assert tree(sub.root) == ["cs231n/layers.py"]
    folder = tmp_path / "downloads"
    folder.mkdir()
    moodle_export(folder / "submissions.zip")
    subs = collect([folder], tmp_path / "w2")
    assert [s.name for s in subs] == [ALICE, BOB, CAROL]
    assert subs[0].origin == f"{folder}:submissions.zip:{ALICE}"
    (whole,) = collect([folder], tmp_path / "w3", lms=False)
    assert whole.name == "downloads" and whole.error is None
    assert f"{BOB}/cs231n/layers.py" in tree(whole.root)


def test_a_broken_lone_zip_is_its_inputs_error(tmp_path: Path) -> None:
    alice = write_zip(tmp_path / "alice.zip", [("hw/assignment1.zip", b"PK nope")])
    (sub,) = collect([alice], tmp_path / "work")
    assert sub.name == "alice" and sub.root is None
    assert (sub.error or "").startswith("hw/assignment1.zip could not be opened")


def test_a_lone_zip_shares_its_inputs_budget(tmp_path: Path, keep_partial: None) -> None:
    lone = zip_bytes({"cs231n/layers.py": LAYERS, "cs231n/data.bin": os.urandom(6000)})
    alice = write_zip(tmp_path / "alice.zip", [("assignment1.zip", lone)], zipfile.ZIP_STORED)
    limits = ExtractLimits(intake_bytes=10_000)
    assert len(lone) < limits.intake_bytes  # each fits alone; together they do not
    (sub,) = collect([alice], tmp_path / "w1", limits=limits)
    assert sub.root is None and "expands to more than" in (sub.error or "")
    assert bytes_under(tmp_path / "w1") <= limits.intake_bytes
    (sub,) = collect([alice], tmp_path / "w2", limits=ExtractLimits(intake_bytes=20_000))
    assert sub.error is None
