"""Replies shaped to blow up the grading process's memory (issue 10, finding 10).

The grading process has no memory limit: with ``--jobs N``, one submission that makes it allocate
gigabytes takes down the machine and every other student's batch. Each attack here is planted
in the wrong-but-harmless base (see conftest.py for the invariants (a) and (c) the ``hostile``
fixture asserts), names its effect in the check's message (b), and must leave the grading
process's peak memory under ``PEAK_LIMIT``.

How the peak is measured: the ``hostile`` fixture's grading (``conftest.grade``, which runs
``grader.api.grade`` with one job, so in the calling process) is moved into a fresh interpreter
that prints its own ``VmHWM`` (``/proc/self/status``) when it is done. That is the kernel's
high-water mark of the grading process's resident memory, every allocation included (numpy's,
not only Python's, which ``tracemalloc`` would miss), and nothing else: the student's processes
are other processes, and this pytest process, whose own high-water mark holds whatever earlier
tests allocated, is not measured at all (``ru_maxrss`` would measure it: Linux carries the
parent's mark into a child across fork and exec). The honest
base is measured the same way, for the comparison in the failure message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import conftest
from tests.hostile.conftest import BASE, ROOT, Graded, Hostile

pytestmark = pytest.mark.sandbox

FIRST = "affine_forward"
PEAK_LIMIT = 500 * 2**20
"""Grading one submission takes well under 200 MiB here; before the fix, the attack of one 4 KiB
array named 300,000 times peaked at 3.6 GB."""

MEASURED = """
import json, sys
from pathlib import Path
from tests.hostile.conftest import grade
paths = [Path(p) for p in json.loads(sys.argv[1])]
grade(paths, Path(sys.argv[2]), **json.loads(sys.argv[3]))
with open("/proc/self/status") as status:  # VmHWM: this process's own high-water mark, in KiB
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print("NNG-PEAK", json.dumps({"peak": peak}))
"""


def grade_measured(paths: list[Path], out: Path, **limits: float) -> tuple[list[Graded], int]:
    """``conftest.grade`` in a fresh interpreter: its results and its peak resident bytes."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED,
            json.dumps([str(p) for p in paths]),
            str(out),
            json.dumps(limits),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("NNG-PEAK "))
    docs = [
        Graded(
            json.loads((out / p.name / "results.json").read_text()),
            (out / p.name / "output.txt").read_text(errors="replace"),
        )
        for p in paths
    ]
    return docs, int(json.loads(line.removeprefix("NNG-PEAK "))["peak"])


@pytest.fixture(scope="module")
def base_peak(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak resident bytes of the grading process for the honest base."""
    _, peak = grade_measured([BASE], tmp_path_factory.mktemp("base-peak"))
    return peak


@pytest.fixture
def peaks(monkeypatch: pytest.MonkeyPatch, hostile: Hostile) -> Iterator[list[int]]:
    """Make the ``hostile`` fixture grade in a measured interpreter; the peaks, in order."""
    found: list[int] = []

    def measured(paths: list[Path], out: Path, **limits: float) -> list[Graded]:
        docs, peak = grade_measured(paths, out, **limits)
        found.append(peak)
        return docs

    monkeypatch.setattr(conftest, "grade", measured)
    yield found


def bounded(peaks: list[int], base_peak: int) -> None:
    (peak,) = peaks
    assert peak < PEAK_LIMIT, (
        f"the grading process peaked at {peak / 2**20:.0f} MiB "
        f"(the honest base: {base_peak / 2**20:.0f} MiB)"
    )


FORGE = """
import os, sys
import numpy as np
from nngrader_child import protocol as _p
_f = sys._getframe()
while _f is not None and not (_f.f_code.co_name == "serve" and "header" in _f.f_locals):
    _f = _f.f_back
_rid = _f.f_locals["header"]["id"]  # the request being answered: affine_forward's first call
_data = _p.pack({"id": _rid, "ok": True, "value": VALUE}, {"a0": np.zeros(SIZE)})
print("NNG-FORGE", len(_data), flush=True)  # the child is killed unflushed
while _data:
    _data = _data[os.write(int(sys.argv[2]), _data):]
"""
"""Write a well-formed frame answering the current request with ``VALUE``, in which
``{"$a": "a0"}`` names one array of ``SIZE`` float64 zeros."""


def forged(out: str, size: int) -> str:
    """A well-formed answer to affine_forward's first call (``return_args``: the value, then
    the arguments as the function left them) whose ``out`` is the Python expression ``out``."""
    value = (
        f'{{"$d": [["value", {{"$t": [{out}, None]}}], ["args", [{{"$a": "a0"}}] * 3], '
        '["kwargs", {"$d": []}]]}'
    )
    return FORGE.replace("VALUE", value).replace("SIZE", str(size))


def test_one_4kib_array_named_300000_times(
    hostile: Hostile, peaks: list[int], base_peak: int
) -> None:
    """The finding itself: 300,000 names of a 4 KiB array, 1.2 GB once converted. Its header
    (3.6 MB) is over the header limit: refused before it is parsed."""
    doc = hostile.attack(in_affine_forward=forged('[{"$a": "a0"}] * 300_000', 512))
    assert "NNG-FORGE" in doc.log
    doc.names(
        FIRST,
        "the student's process broke the protocol (frame header of ",
        " bytes exceeds the 1024 KiB limit)",
        status="error",
    )
    bounded(peaks, base_peak)


def test_one_32kib_array_named_80000_times_within_the_header_limit(
    hostile: Hostile, peaks: list[int], base_peak: int
) -> None:
    """The same attack under the header limit (960 KB): 80,000 names of a 32 KiB array would be
    2.4 GiB once converted. Decoding counts every name and refuses it."""
    doc = hostile.attack(in_affine_forward=forged('[{"$a": "a0"}] * 80_000', 4096))
    assert "NNG-FORGE" in doc.log
    doc.names(
        FIRST,
        "the student's process broke the protocol: the reply's values exceed the 256 MiB limit on "
        "results (every reference to an array counts its size)",
        status="error",
    )
    bounded(peaks, base_peak)


def test_a_list_of_strings_returned_as_the_output(
    hostile: Hostile, peaks: list[int], base_peak: int
) -> None:
    """No forgery: affine_forward returns 100,000 one-letter strings and one of 20,000 letters
    (420 KB of JSON). np.asarray pads every string to the longest: an 8 GB array. The comparison
    sizes the list first and fails the check."""
    doc = hostile.attack(in_affine_forward='return ["x" * 20_000] + ["a"] * 100_000, None')
    doc.names(
        FIRST,
        "got a list that would take more than 256 MiB as an array",
        status="failed",
    )
    bounded(peaks, base_peak)


def test_the_base_is_measured_the_same_way(base_peak: int) -> None:
    """The measurement itself: the honest base's grading process stays well under the limit, so
    ``PEAK_LIMIT`` separates an attack's effect from the grader's own footprint."""
    assert 20 * 2**20 < base_peak < PEAK_LIMIT / 2, f"{base_peak / 2**20:.0f} MiB"
