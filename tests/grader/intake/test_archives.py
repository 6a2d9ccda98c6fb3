"""Writing files out: zip limits on the bytes written, unreadable zips, links never followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from grader.intake import ExtractLimits, collect, zip_bytes
from tests.grader.intake.helpers import (
    LAYERS,
    by_name,
    bytes_under,
    inner,
    tree,
    write,
    write_zip,
)

# ---- zip protections, one test each ------------------------------------------------------------

LIMIT_CASES = {
    "members": (
        ExtractLimits(members=10),
        [(f"f{i}.py", b"") for i in range(10)],
        "11 entries (limit 10)",
        0,
    ),
    "file_bytes": (
        ExtractLimits(file_bytes=1024),
        [("cs231n/big.py", os.urandom(1025))],
        "larger than 1 KiB",
        1024 + len(LAYERS),
    ),
    "total_bytes": (
        ExtractLimits(total_bytes=4096),
        [(f"f{i}.py", os.urandom(1500)) for i in range(3)],
        "expands to more than 4 KiB",
        4096,
    ),
    "ratio": (
        ExtractLimits(),
        [("cs231n/data.py", bytes(2 * 1024**2))],
        "compression ratio above 200:1",
        1024**2 + 2**16 + len(LAYERS),
    ),
}
"""Per limit: the limits, the members beside ``cs231n/layers.py``, the message, bytes at most."""


@pytest.mark.parametrize("case", ["members", "file_bytes", "total_bytes", "ratio"])
def test_zip_size_and_count_limits(tmp_path: Path, case: str, keep_partial: None) -> None:
    """Each limit stops extraction with its own message, before more than the limit is written."""
    limits, members, expected, most = LIMIT_CASES[case]
    archive = write_zip(tmp_path / f"{case}.zip", [("cs231n/layers.py", LAYERS), *members])
    (sub,) = collect([archive], tmp_path / "work", limits=limits)
    assert sub.root is None and expected in sub.error, sub.error
    assert bytes_under(tmp_path / "work") <= most


def _patch_central_directory(data: bytes, offset: int, value: bytes) -> bytes:
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + value + data[at + len(value) :]


@pytest.mark.parametrize(
    "patch, expected",
    [
        ((8, b"\x01\x00"), "encrypted"),  # general-purpose flag bit 0
        ((10, b"\x63\x00"), "compression method"),  # method 99 (AES), not supported
    ],
)
def test_unreadable_zips_are_errors_not_crashes(
    tmp_path: Path, patch: tuple[int, bytes], expected: str
) -> None:
    archive = tmp_path / "odd.zip"
    archive.write_bytes(_patch_central_directory(zip_bytes({"cs231n/layers.py": LAYERS}), *patch))
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.root is None and "zip file is broken or unsupported" in sub.error
    assert expected in sub.error


# ---- folder submissions: symlinks and special files never lead out -------------------------------


def test_folder_symlinks_leaving_the_submission_are_skipped_with_a_note(tmp_path: Path) -> None:
    outside = write(
        tmp_path / "outside", {"secret.py": "SECRET = 1\n", "pkg/fc_net.py": "SECRET = 2\n"}
    )
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n"})
    (src / "cs231n/optim.py").symlink_to(outside / "secret.py")
    (src / "cs231n/classifiers").symlink_to(outside / "pkg", target_is_directory=True)
    (src / "passwd.py").symlink_to("/etc/passwd")
    (src / "cs231n/alias.py").symlink_to("layers.py")  # stays inside: copied as a plain file
    (src / "cs231n/dangling.py").symlink_to(tmp_path / "missing.py")
    os.mkfifo(src / "cs231n/pipe.py")
    (sub,) = collect([src], tmp_path / "work")
    assert sub.error is None
    assert tree(sub.root) == ["cs231n/alias.py", "cs231n/layers.py"]
    assert not any(p.is_symlink() for p in sub.root.rglob("*"))
    assert (sub.root / "cs231n/alias.py").read_text() == "x = 1\n"
    assert all("SECRET" not in p.read_text() for p in sub.root.rglob("*.py"))
    notes = "\n".join(sub.notes)
    skipped = [
        "cs231n/optim.py",
        "cs231n/classifiers",
        "passwd.py",
        "cs231n/dangling.py",
        "cs231n/pipe.py",
    ]
    assert [name for name in skipped if name not in notes] == []
    assert "outside the submission" in notes and "not a regular file" in notes


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_folder_device_files_are_never_copied(tmp_path: Path) -> None:
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n"})
    os.mknod(src / "cs231n/zero.py", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    (sub,) = collect([src], tmp_path / "work")
    assert tree(sub.root) == ["cs231n/layers.py"] and any("zero.py" in n for n in sub.notes)


def test_a_link_to_another_students_files_is_not_followed(tmp_path: Path) -> None:
    export = write(
        tmp_path / "export",
        {"alice/cs231n/layers.py": "ALICE = 1\n", "bob/cs231n/optim.py": "x = 1\n"},
    )
    (export / "bob/cs231n/layers.py").symlink_to("../../alice/cs231n/layers.py")
    (export / "bob/alice").symlink_to("../alice", target_is_directory=True)
    subs = by_name(collect([export], tmp_path / "work"))
    assert tree(subs["bob"].root) == ["cs231n/optim.py"]
    assert any("cs231n/layers.py" in n and "outside" in n for n in subs["bob"].notes)


def test_folder_export_reads_inner_zips_in_place_without_following_links(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"bob/cs231n/layers.py": "x = 2\n"})
    (export / "alice.zip").write_bytes(inner())
    outside = tmp_path / "outside.zip"
    outside.write_bytes(inner(secret=b"SECRET"))
    (export / "mallory.zip").symlink_to(outside)
    (export / "trudy").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    subs = by_name(collect([export], tmp_path / "work"))
    assert sorted(subs) == ["alice", "bob", "mallory", "trudy"]
    assert subs["alice"].error is None and subs["bob"].error is None
    assert "symbolic link (not followed)" in subs["mallory"].error and subs["mallory"].root is None
    assert "symbolic link (not followed)" in subs["trudy"].error
    written = (p.read_bytes() for p in (tmp_path / "work").rglob("*") if p.is_file())
    assert b"SECRET" not in b"".join(written)
