"""Process mode where Linux-only facilities are missing, and ``--sandbox best``.

The student kit runs the student's own code on the student's own machine: Linux with or without
bubblewrap, macOS, Windows. Each missing facility (``grader.sandbox.facilities``) must drop only
its own protections, and grading must still work, time limits included. The absences are
simulated on this machine with ``NNGRADER_SIMULATE_MISSING``, which the sandbox hands on to the
child; ``ALL`` is everything Windows lacks, ``posix_fds`` included, so the protocol travels on the
child's stdin and stdout there (``tests/grader/sandbox/test_transport.py``). These tests need
neither root nor bwrap: they are not ``sandbox``-marked.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from grader import api
from grader.results import SubmissionResult
from grader.sandbox import Limits, Sandbox, SandboxUnavailable, facilities, modes, resolve_mode
from grader.sandbox.facilities import SIMULATE_ENV

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "cs231n-2021"
COURSE = "cs231n-2021"
ALL = "prctl,resource,fcntl,cgroup,procfs,posix_fds"
NO_BWRAP = "bubblewrap (bwrap) is not installed"
ROOT_ONLY = {"fcntl", "cgroup", "procfs"}
UNNOTED = {"posix_fds"}
"""Missing, but no protection goes with it: only the transport changes."""


def _check(path: Path, **limits: float) -> SubmissionResult:
    return api.check(path, assignment=COURSE, sandbox="process", limits=limits or None)


def _missing_notes(result: SubmissionResult) -> list[str]:
    return [n for n in result.notes if n.startswith("missing on this machine")]


@pytest.mark.parametrize("absent", ["prctl", "resource", "fcntl", "cgroup", ALL])
def test_the_correct_example_passes_whatever_is_missing(
    absent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIMULATE_ENV, absent)
    result = _check(EXAMPLES / "correct")
    assert result.checks and result.error is None
    assert {c.status for c in result.checks} == {"passed"}, [
        (c.check_id, c.status, c.message) for c in result.checks if c.status != "passed"
    ]
    assert not [c for c in result.checks if "internal grader error" in (c.message or "")]
    # Without root there is no uid to claim (fcntl) and no cgroup to make: nothing to lose.
    named = [
        n
        for n in absent.split(",")
        if (facilities.is_root() or n not in ROOT_ONLY) and n not in UNNOTED
    ]
    notes = _missing_notes(result)
    assert len(notes) == (1 if named else 0), result.notes
    for name in named:
        assert name in notes[0], notes
        assert "Time limits still apply" in notes[0]


def test_a_bug_still_fails_its_check_with_everything_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SIMULATE_ENV, ALL)
    checks = {c.check_id: c for c in _check(EXAMPLES / "bug-relu-backward").checks}
    assert checks["relu_backward"].status == "failed", checks["relu_backward"].message
    assert checks["relu_forward"].status == "passed"


def test_an_endless_loop_still_times_out_with_everything_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``missing-raising-hanging``'s rmsprop never returns: the deadline kills the child."""
    monkeypatch.setenv(SIMULATE_ENV, ALL)
    result = _check(EXAMPLES / "missing-raising-hanging", check_seconds=3)
    checks = {c.check_id: c for c in result.checks}
    assert checks["rmsprop"].status == "timeout", checks["rmsprop"].message
    assert checks["relu_forward"].status == "passed"


def test_the_child_sees_the_same_simulation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIMULATE_ENV, ALL)
    ws, scratch, out = tmp_path / "ws", tmp_path / "scratch", tmp_path / "out.txt"
    ws.mkdir()
    scratch.mkdir()
    code = textwrap.dedent(f"""
        import os, pathlib
        print(os.environ.get({SIMULATE_ENV!r}))
        status = pathlib.Path("/proc/self/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith(("NoNewPrivs:", "Seccomp:")):
                print(line.split()[1])
    """)
    limits = Limits()
    with Sandbox(mode="process", workspace=ws, scratch=scratch, ro_paths=[], limits=limits) as box:
        assert box.spawn([sys.executable, "-s", "-c", code], stdout_path=out).wait(timeout=30) == 0
        assert box.cgroup is None and box.uid is None and box._rlimits == []
        assert box._prctl is None and box._filter is None
    seen, *flags = out.read_text().split()
    assert seen == ALL
    assert set(flags) <= {"0"}, flags  # no no-new-privileges, no seccomp filter: prctl is "missing"


def test_the_probes_see_the_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SIMULATE_ENV, " prctl, resource ,")
    assert facilities.simulated() == {"prctl", "resource"}
    assert facilities.prctl() is None and not facilities.has_resource()
    assert facilities.missing(root=False, isolation="process")[:2] == ("prctl", "resource")
    # bwrap sets no-new-privileges and loads the seccomp filter itself.
    assert "prctl" not in facilities.missing(root=False, isolation="bwrap")
    monkeypatch.setenv(SIMULATE_ENV, "fcntl,cgroup,procfs")
    assert not facilities.uid_drop() and not facilities.has_cgroups()
    assert not ROOT_ONLY & set(facilities.missing(root=False, isolation="process"))  # root's
    assert ROOT_ONLY <= set(facilities.missing(root=True, isolation="process"))
    assert facilities.missing_note(()) is None
    assert facilities.has_posix_fds()
    monkeypatch.setenv(SIMULATE_ENV, "posix_fds")
    assert not facilities.has_posix_fds()
    assert "posix_fds" not in facilities.missing(root=True, isolation="process")  # no note


@pytest.mark.skipif(
    modes.available_modes()["bwrap"] is not None,
    reason=f"bwrap unusable: {modes.available_modes()['bwrap']}",
)
def test_best_is_bwrap_where_it_works() -> None:
    assert resolve_mode("best") == resolve_mode("auto") == "bwrap"
    assert modes.fallback_note("best") is None


def test_best_falls_back_to_process_where_auto_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``_bwrap_problem`` is cached: replaced, not re-probed.
    monkeypatch.setattr(modes, "_bwrap_problem", lambda: NO_BWRAP)
    assert resolve_mode("best") == "process"
    with pytest.raises(SandboxUnavailable, match="--sandbox process"):
        resolve_mode("auto")
    assert modes.fallback_note("best") == (
        f"No isolation here ({NO_BWRAP}): your code ran in a child process on this machine."
    )
    assert modes.fallback_note("process") is None and modes.fallback_note("auto") is None


def test_best_without_bwrap_grades_and_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modes, "_bwrap_problem", lambda: NO_BWRAP)
    result = api.check(EXAMPLES / "correct", assignment=COURSE, sandbox="best")
    assert result.isolation == "process"
    assert {c.status for c in result.checks} == {"passed"}
    assert result.notes.count(modes.fallback_note("best") or "") == 1, result.notes
    assert not [n for n in result.notes if n.startswith("isolation was OFF")], result.notes
