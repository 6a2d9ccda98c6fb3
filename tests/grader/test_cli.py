"""The command line contract: output files, terminal lines and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.intake import zip_bytes

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
needs_example = pytest.mark.skipif(
    not CORRECT.is_dir(), reason=f"bundled example {CORRECT} missing"
)
# For tests that read only output names and the detection, both settled before any check runs: a
# submission time limit spent before the first check skips every check (each says "not run"),
# instead of grading whole submissions for nothing.
NO_CHECKS = ("--submission-timeout", "1e-9")


@needs_example
def test_grade_writes_results_json_per_submission_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(CORRECT, tmp_path / "alice")
    broken = tmp_path / "bob.zip"
    broken.write_bytes(b"this is not a zip file")
    out = tmp_path / "out"
    code = main(
        [
            "grade",
            str(tmp_path / "alice"),
            str(broken),
            str(CORRECT),
            "--assignment",
            "cs231n-2021",
            "--sandbox",
            "process",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    alice = json.loads((out / "alice" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(
        alice["tests"][0]
    )
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert bob["score"] == 0 and "broken" in bob["error"]
    assert (out / "correct" / "results.json").exists()
    lines = capsys.readouterr().out.splitlines()
    assert sum("results.json" in line for line in lines) == 3


@needs_example
def test_name_collisions_get_suffixes(tmp_path: Path) -> None:
    for parent in ("a", "b", "c"):
        shutil.copytree(CORRECT, tmp_path / parent / "sub")
    out = tmp_path / "out"
    assert (
        main(
            [
                "grade",
                *(str(tmp_path / p / "sub") for p in "abc"),
                "--assignment",
                "cs231n-2021",
                "--sandbox",
                "process",
                "--out",
                str(out),
                *NO_CHECKS,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["sub", "sub-2", "sub-3"]


@needs_example
def test_lms_export_zip_is_split_per_student(tmp_path: Path) -> None:
    files = {
        f"{student}/{p.relative_to(CORRECT).as_posix()}": p.read_bytes()
        for student in ("alice_123", "bob_456")
        for p in CORRECT.rglob("*.py")
    }
    export = tmp_path / "export.zip"
    export.write_bytes(zip_bytes(files))
    out = tmp_path / "out"
    assert (
        main(
            [
                "grade",
                str(export),
                "--assignment",
                "cs231n-2021",
                "--sandbox",
                "process",
                "--out",
                str(out),
                *NO_CHECKS,
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["alice_123", "bob_456"]


LONG = "é" * 200
"""A student folder name of 400 bytes: no file system takes it as one name."""
FORGED = "evil\x1b[2K\rbob  59.0\u221559.0"
"""ANSI escapes (erase the line, back to its start) and a look-alike slash: a forged score."""


def _options(out: Path) -> list[str]:
    """``grade`` options that read names and write results without running a check."""
    return ["--assignment", "cs231n-2021", "--sandbox", "process", "--out", str(out), *NO_CHECKS]


@needs_example
@pytest.mark.parametrize("encoding", ["ascii", "utf-8:strict"])
def test_hostile_names_get_safe_folders_and_a_safe_terminal(tmp_path: Path, encoding: str) -> None:
    """Names too long for a disk, not UTF-8, or with escapes: each student is graded and written
    to a safe folder that keeps the name in results.json, and the terminal shows them escaped,
    even on an ASCII or strict UTF-8 terminal."""
    code = {p.relative_to(CORRECT).as_posix(): p.read_bytes() for p in CORRECT.rglob("*.py")}
    names = [LONG, FORGED, "Müller", "zed"]
    export = tmp_path / "export.zip"
    export.write_bytes(zip_bytes({f"{n}/{rel}": data for n in names for rel, data in code.items()}))
    unpacked = os.fsencode(tmp_path / "unpacked")
    for student in (b"caf\xe9", b"dan"):
        shutil.copytree(CORRECT, os.fsdecode(os.path.join(unpacked, student)))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(export),
            os.fsdecode(unpacked),
            *_options(out),
        ],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": encoding, "LC_ALL": "C"},
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    text = proc.stdout.decode("utf-8")  # strict: the terminal got valid text
    assert "\x1b" not in text and "\r" not in text and "59.0\u221559.0" not in text
    assert "evil\\x1b[2K\\rbob  59.0\\u221559.0" in text  # shown, escaped
    written = {
        json.loads((folder / "results.json").read_text(encoding="ascii"))["submission"]: folder
        for folder in out.iterdir()
    }
    assert set(written) == {*names, "caf\\xe9", "dan"}
    assert written["zed"].name == "zed" and written["dan"].name == "dan"
    for folder in written.values():
        assert folder.name.isascii() and len(folder.name) <= 100
        assert (folder / "output.txt").is_file()
    assert len(text.splitlines()) == len(written) + 1  # one line per submission, and the total


@needs_example
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_result_that_cannot_be_written_is_reported_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str
) -> None:
    for name in ("amy", "bob", "cid"):
        shutil.copytree(CORRECT, tmp_path / name)
    out = tmp_path / "out"
    out.mkdir()
    (out / "bob").write_text("a file where bob's folder would go")  # even root cannot write there
    code = main(
        [
            "grade",
            *(str(tmp_path / n) for n in ("amy", "bob", "cid")),
            "--jobs",
            jobs,
            *_options(out),
        ]
    )
    assert code == 1
    assert (out / "amy" / "results.json").is_file() and (out / "cid" / "results.json").is_file()
    assert (out / "bob").read_text() == "a file where bob's folder would go"
    lines = capsys.readouterr().out.splitlines()
    (bob,) = (line for line in lines if line.startswith("bob "))
    assert "NOT WRITTEN" in bob and "results.json" not in bob
    assert "1 submission(s) graded but NOT WRITTEN:" in lines
    assert any(line.startswith("  bob: ") for line in lines)


@needs_example
def test_detection_without_assignment_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["grade", str(CORRECT), "--sandbox", "process", "--out", str(out), *NO_CHECKS]) == 0
    doc = json.loads((out / "correct" / "results.json").read_text())
    assert doc["assignment"] == "cs231n-2021"
    assert (
        doc["detection"].startswith("detected cs231n-2021")
        and "dropout_keep_ratio" in doc["detection"]
    )


@needs_example
def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(CORRECT), "--assignment", "cs231n-2021", "--sandbox", "process"]) == 0
    table = capsys.readouterr().out
    assert "[fc]" in table and "Total:" in table and "hidden" not in table
    buggy = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
    if buggy.is_dir():
        assert (
            main(["check", str(buggy), "--assignment", "cs231n-2021", "--sandbox", "process"]) == 1
        )


def test_list_and_unknown_assignment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for spec_id in ("cs231n-2021", "ucla-c147-2022", "cs182-sp25"):
        assert spec_id in listing
    assert (
        main(
            [
                "grade",
                str(tmp_path),
                "--assignment",
                "nope",
                "--sandbox",
                "process",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 3
    )
    assert "unknown assignment" in capsys.readouterr().err


def test_usage_error_exits_two() -> None:
    with pytest.raises(SystemExit) as info:
        main(["grade"])
    assert info.value.code == 2


def test_python_dash_m_grader_is_the_same_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("nngrader ")


# -- limits on the command line -------------------------------------------------------------------

ALL_LIMITS = [
    "--timeout",
    "7.5",
    "--submission-timeout",
    "120",
    "--cpu-seconds",
    "30",
    "--memory-mb",
    "512",
    "--max-processes",
    "12",
    "--max-open-files",
    "64",
    "--max-file-mb",
    "1.5",
    "--disk-mb",
    "100",
    "--output-kb",
    "8",
    "--threads",
    "2",
]
EXPECTED = {
    "check_seconds": 7.5,
    "submission_seconds": 120.0,
    "cpu_seconds": 30,
    "memory_bytes": 512 * 2**20,
    "max_processes": 12,
    "max_open_files": 64,
    "max_file_bytes": int(1.5 * 2**20),
    "disk_bytes": 100 * 2**20,
    "output_bytes": 8 * 1024,
    "threads": 2,
}


def _result(*checks: object) -> object:
    from grader.results import SubmissionResult

    return SubmissionResult(
        name="s",
        assignment="cs231n-2021",
        detection="--assignment cs231n-2021",
        checks=tuple(checks),
        isolation="process",
    )  # type: ignore[arg-type]


def _check(check_id: str, status: str, points: float, *, counts: bool = True) -> object:
    from grader.results import CheckResult

    return CheckResult(
        check_id=check_id,
        part="fc",
        title=check_id,
        status=status,  # type: ignore[arg-type]
        score=points if status == "passed" else 0.0,
        max_score=points,
        visibility="visible",
        message="" if status == "passed" else "it failed",
        counts=counts,
    )


@pytest.mark.parametrize("command", ["grade", "check"])
def test_every_limit_option_reaches_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    from grader import api
    from grader.sandbox import Limits

    seen: dict[str, object] = {}

    def fake(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return [] if command == "grade" else _result(_check("a", "passed", 1.0))

    monkeypatch.setattr(api, command, fake)
    where = ["--out", str(tmp_path / "out")] if command == "grade" else []
    assert main([command, str(tmp_path), *where, "--sandbox", "process", *ALL_LIMITS]) == 0
    assert seen["limits"] == EXPECTED
    assert set(EXPECTED) == set(Limits.__dataclass_fields__)  # every limit has an option
    limits = Limits.layered(api.get_spec("cs231n-2021").limits, seen["limits"])  # type: ignore[arg-type]
    assert limits == Limits(**EXPECTED)  # type: ignore[arg-type]
    assert isinstance(limits.cpu_seconds, int) and isinstance(limits.memory_bytes, int)


@pytest.mark.parametrize(
    "option", ["--timeout", "--cpu-seconds", "--max-file-mb", "--threads", "--output-kb"]
)
@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_a_limit_must_be_a_positive_number(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", ".", option, value])
    assert info.value.code == 2
    assert option in capsys.readouterr().err


def test_limits_not_given_are_not_overridden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from grader import api

    seen: dict[str, object] = {}
    monkeypatch.setattr(
        api, "check", lambda *a, **k: seen.update(k) or _result(_check("a", "passed", 1.0))
    )
    assert main(["check", str(tmp_path), "--sandbox", "process", "--memory-mb", "256"]) == 0
    assert seen["limits"] == {"memory_bytes": 256 * 2**20}


@pytest.mark.parametrize(
    ("checks", "code"),
    [
        ([("value", "passed", 2.0, True), ("info", "failed", 0.0, False)], 0),
        ([("value", "passed", 2.0, True), ("optional", "failed", 0.0, True)], 0),
        ([("value", "passed", 2.0, True), ("slow", "timeout", 0.0, False)], 0),
        ([("value", "failed", 2.0, True), ("info", "passed", 0.0, False)], 1),
        ([("value", "passed", 2.0, True), ("grad", "error", 1.0, True)], 1),
    ],
)
def test_check_exits_one_only_when_a_check_worth_points_fails(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    checks: list[tuple[str, str, float, bool]],
    code: int,
) -> None:
    from grader import api

    result = _result(*(_check(i, s, p, counts=c) for i, s, p, c in checks))
    monkeypatch.setattr(api, "check", lambda *a, **k: result)
    assert main(["check", str(tmp_path), "--sandbox", "process"]) == code
