"""The command line contract: output files, terminal lines and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main
from grader.intake import zip_bytes

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
needs_example = pytest.mark.skipif(not CORRECT.is_dir(), reason=f"bundled example {CORRECT} missing")


@needs_example
def test_grade_writes_results_json_per_submission_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(CORRECT, tmp_path / "alice")
    broken = tmp_path / "bob.zip"
    broken.write_bytes(b"this is not a zip file")
    out = tmp_path / "out"
    code = main(["grade", str(tmp_path / "alice"), str(broken), str(CORRECT), "--assignment", "cs231n-2021",
                 "--sandbox", "process", "--out", str(out)])
    assert code == 0
    alice = json.loads((out / "alice" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(alice["tests"][0])
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
    assert main(["grade", *(str(tmp_path / p / "sub") for p in "abc"), "--assignment", "cs231n-2021",
                 "--sandbox", "process", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["sub", "sub-2", "sub-3"]


@needs_example
def test_lms_export_zip_is_split_per_student(tmp_path: Path) -> None:
    files = {f"{student}/{p.relative_to(CORRECT).as_posix()}": p.read_bytes()
             for student in ("alice_123", "bob_456") for p in CORRECT.rglob("*.py")}
    export = tmp_path / "export.zip"
    export.write_bytes(zip_bytes(files))
    out = tmp_path / "out"
    assert main(["grade", str(export), "--assignment", "cs231n-2021", "--sandbox", "process", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["alice_123", "bob_456"]


@needs_example
def test_detection_without_assignment_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["grade", str(CORRECT), "--sandbox", "process", "--out", str(out)]) == 0
    doc = json.loads((out / "correct" / "results.json").read_text())
    assert doc["assignment"] == "cs231n-2021"
    assert doc["detection"].startswith("detected cs231n-2021") and "dropout_keep_ratio" in doc["detection"]


@needs_example
def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(CORRECT), "--assignment", "cs231n-2021", "--sandbox", "process"]) == 0
    table = capsys.readouterr().out
    assert "[fc]" in table and "Total:" in table and "hidden" not in table
    buggy = ROOT / "examples" / "cs231n-2021" / "bug-softmax-no-mean"
    if buggy.is_dir():
        assert main(["check", str(buggy), "--assignment", "cs231n-2021", "--sandbox", "process"]) == 1


def test_list_and_unknown_assignment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for spec_id in ("cs231n-2021", "ucla-c147-2022", "cs182-sp25"):
        assert spec_id in listing
    assert main(["grade", str(tmp_path), "--assignment", "nope", "--sandbox", "process", "--out", str(tmp_path / "o")]) == 3
    assert "unknown assignment" in capsys.readouterr().err


def test_usage_error_exits_two() -> None:
    with pytest.raises(SystemExit) as info:
        main(["grade"])
    assert info.value.code == 2


def test_python_dash_m_grader_is_the_same_program() -> None:
    proc = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("nngrader ")
