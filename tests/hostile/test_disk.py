"""Disk attacks: filling scratch with big files or with empty ones, writing /tmp and /dev/shm.

Scratch is a tmpfs limited in bytes and files (``grader.sandbox.scratch``): each attack must run
into the disk limit (or, for /tmp and /dev/shm, into a folder the sandbox uid cannot write), the
report must name it, and nothing may be left on the host: no mount, no growth of the host disk.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.hostile.conftest import Graded, Hostile

pytestmark = pytest.mark.sandbox

FIRST = "affine_forward"
DISK = "disk limit (256 MiB, 16384 files) exceeded"
"""The default disk limit, as a report names it (one file per 16 KiB)."""


def _mounts_under(folder: Path) -> list[str]:
    """Mount points below ``folder`` (other graders on this machine mount elsewhere)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [p for line in lines if Path(p := line.split()[4]).is_relative_to(folder)]


def _disk_used() -> int:
    return shutil.disk_usage(tempfile.gettempdir()).used


@pytest.fixture
def hostile_here(hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> Hostile:
    """``hostile``, with the grader's temporary folders (and so its scratch mounts) below the
    test's own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(hostile.tmp))
    return hostile


def attack_disk(hostile: Hostile, code: str) -> Graded:
    """Plant ``code`` in affine_forward (first call), grade, and check the host kept no trace."""
    used = _disk_used()
    doc = hostile.attack(in_affine_forward=code)
    assert not _mounts_under(hostile.tmp), f"mounts left: {_mounts_under(hostile.tmp)}"
    grown = _disk_used() - used
    assert grown < 256 * 2**20, f"the host disk grew by {grown / 2**20:.0f} MiB"
    assert doc.status("relu_forward") == "passed", doc.message("relu_forward")
    return doc


def test_many_big_files_hit_the_disk_limit(hostile_here: Hostile) -> None:
    # 30 MiB each: below the 32 MiB file size limit of these tests, so only the disk can stop it.
    doc = attack_disk(
        hostile_here,
        "block = b'x' * (30 << 20)\n"
        "for i in range(64):\n"
        "    with open(f'big-{i}', 'wb') as f:\n"
        "        f.write(block)",
    )
    doc.names(FIRST, "[Errno 28]", DISK, status="error")


def test_many_empty_files_hit_the_file_count(hostile_here: Hostile) -> None:
    doc = attack_disk(
        hostile_here,
        "import os\n"
        "for i in range(150_000):\n"
        "    os.close(os.open(f'e{i}', os.O_CREAT | os.O_WRONLY))",
    )
    doc.names(FIRST, "[Errno 28]", DISK, status="error")


def test_many_folders_hit_the_file_count(hostile_here: Hostile) -> None:
    doc = attack_disk(hostile_here, "import os\nfor i in range(150_000):\n    os.mkdir(f'd{i}')")
    doc.names(FIRST, "[Errno 28]", DISK, status="error")


@pytest.mark.parametrize("folder", ["tmp", "dev/shm", "var/tmp"])
def test_shared_memory_folders_are_not_writable(hostile_here: Hostile, folder: str) -> None:
    # Outside scratch nothing is writable for the sandbox uid: /tmp and /dev/shm are tmpfs of
    # bwrap's owned by root, /var/tmp is the host's, read-only.
    doc = attack_disk(
        hostile_here,
        "block = b'x' * (30 << 20)\n"
        "for i in range(64):\n"
        f"    with open('/{folder}/big-' + str(i), 'wb') as f:\n"
        "        f.write(block)",
    )
    doc.names_any(FIRST, "[Errno 13]", "[Errno 30]", "[Errno 2]")
    assert doc.status(FIRST) == "error"
