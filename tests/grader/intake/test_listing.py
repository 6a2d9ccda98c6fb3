"""Listing an input: skip rules, zip members refused by their path or type, entry limits."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake import ExtractLimits, collect
from grader.intake.listing import human_size
from tests.grader.intake.helpers import LAYERS, tree, write, write_zip


def test_folder_skips_caches_vcs_and_links(tmp_path: Path) -> None:
    src = write(
        tmp_path / "alice",
        {
            "cs231n/layers.py": "x = 1\n",
            "cs231n/__pycache__/layers.cpython-311.pyc": "",
            ".git/config": "",
            "notes.pyc": "",
        },
    )
    (src / "link.py").symlink_to("/etc/passwd")
    (sub,) = collect([src], tmp_path / "work")
    assert sub.name == "alice" and sub.error is None
    assert tree(sub.root) == ["cs231n/layers.py"]
    assert any("link.py" in note and "outside" in note for note in sub.notes)


@pytest.mark.parametrize(
    "member, expected",
    [
        ("{abs}", "absolute path"),
        ("C:/escaped.py", "absolute path"),
        ("../escaped.py", "path escapes the submission folder"),
        ("cs231n/../../escaped.py", "path escapes the submission folder"),
        ("..\\escaped.py", "path escapes the submission folder"),
    ],
)
def test_zip_paths_leaving_the_folder_are_refused(
    tmp_path: Path, member: str, expected: str
) -> None:
    member = member.format(abs=str(tmp_path / "escaped.py"))
    archive = write_zip(tmp_path / "slip.zip", [("cs231n/layers.py", LAYERS), (member, b"y = 2\n")])
    (sub,) = collect([archive], tmp_path / "a" / "b" / "work")
    assert sub.root is None and expected in sub.error and repr(member) in sub.error
    assert not [p for p in tmp_path.rglob("escaped.py")]


@pytest.mark.parametrize(
    "mode, expected",
    [
        (stat.S_IFLNK | 0o777, "symbolic links are not allowed"),
        (stat.S_IFCHR | 0o666, "not a regular file"),
        (stat.S_IFBLK | 0o666, "not a regular file"),
        (stat.S_IFIFO | 0o666, "not a regular file"),
        (stat.S_IFSOCK | 0o666, "not a regular file"),
    ],
)
def test_zip_links_and_special_members_are_refused(
    tmp_path: Path, mode: int, expected: str
) -> None:
    info = zipfile.ZipInfo("cs231n/layers.py")
    info.external_attr = mode << 16
    archive = write_zip(tmp_path / "odd.zip", [(info, b"/etc/passwd"), ("cs231n/optim.py", LAYERS)])
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.root is None and expected in sub.error and "cs231n/layers.py" in sub.error
    assert not any((tmp_path / "work").rglob("layers.py"))


def test_links_inside_skipped_folders_do_not_refuse_the_zip(tmp_path: Path) -> None:
    link = zipfile.ZipInfo(".venv/bin/python")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = write_zip(
        tmp_path / "venv.zip", [(link, b"/usr/bin/python3"), ("cs231n/layers.py", LAYERS)]
    )
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]


def test_folder_entry_limit(tmp_path: Path) -> None:
    src = write(tmp_path / "s", {f"f{i}.py": "" for i in range(12)})
    (sub,) = collect([src], tmp_path / "w1", limits=ExtractLimits(members=10))
    assert "12 entries (limit 10)" in sub.error
    (sub,) = collect([src], tmp_path / "w2", limits=ExtractLimits(intake_members=5))
    assert "more than 5 entries" in sub.error


@pytest.mark.parametrize(
    "n, expected",
    [
        (2 * 1024**3, "2 GiB"),
        (3 * 2**30 + 1, "3072 MiB"),
        (200 * 1024**2, "200 MiB"),
        (4096, "4 KiB"),
        (1025, "1025 bytes"),
        (0, "0 bytes"),
    ],
)
def test_sizes_in_messages_read_as_whole_units(n: int, expected: str) -> None:
    assert human_size(n) == expected
