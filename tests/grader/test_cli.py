"""The command line contract: output files, terminal lines and exit codes."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.cli import build_parser, main
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
    assert alice["score"] == alice["extra_data"]["max_score"] > 0
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(
        alice["tests"][0]
    )
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert bob["score"] == 0 and "broken" in bob["extra_data"]["error"]
    assert (out / "correct" / "results.json").exists()
    assert (out / "index.html").is_file() and (out / "grades.csv").is_file()
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert sum("results.json" in line for line in lines) == 3
    assert lines[-4].startswith("3 submission(s) in ") and "2 graded, 1 errored" in lines[-4]
    assert lines[-3:-1] == ["errored (score 0):", f"  bob: {bob['extra_data']['error']}"]
    assert lines[-1] == f"results in {out}/; open {out}/index.html for the class overview"
    progress = printed.err.splitlines()  # not a terminal: one plain line per submission
    assert [line.split(" ", 1)[0] for line in progress] == ["[1/3]", "[2/3]", "[3/3]"]


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
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["sub", "sub-2", "sub-3"]


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
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["alice_123", "bob_456"]


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
        json.loads((folder / "results.json").read_text(encoding="ascii"))["extra_data"][
            "submission"
        ]: folder
        for folder in out.iterdir()
        if folder.is_dir()
    }
    assert set(written) == {*names, "caf\\xe9", "dan"}
    assert written["zed"].name == "zed" and written["dan"].name == "dan"
    for folder in written.values():
        assert folder.name.isascii() and len(folder.name) <= 100
        assert (folder / "output.txt").is_file()
    lines = text.splitlines()  # one line per submission, the summary, where the results are
    assert sum(line.endswith("results.json") for line in lines) == len(written)
    assert lines[-2].startswith(f"{len(written)} submission(s) in ")
    assert lines[-1] == f"results in {out}/; open {out}/index.html for the class overview"


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
    doc = json.loads((out / "correct" / "results.json").read_text())["extra_data"]
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


@pytest.mark.parametrize("command", [["grade", "--out", "o"], ["check"], ["report"]])
def test_a_path_that_does_not_exist_is_a_usage_error_not_a_student(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "no-such-student"
    with pytest.raises(SystemExit) as info:
        main([*command, str(missing)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"nngrader {command[0]}: error: argument" in err and str(missing) in err
    assert not (tmp_path / "o").exists()


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


# -- the batch on the terminal, exit codes, CI reports ---------------------------------------------


def _graded(name: str, *, error: str | None = None, unwritten: str | None = None) -> Any:
    from grader.results import SubmissionResult

    checks = () if error else (_check("a", "passed", 2.0), _check("b", "failed", 1.0))
    return SubmissionResult(
        name=name,
        assignment="cs231n-2021",
        detection="--assignment cs231n-2021",
        checks=checks,  # type: ignore[arg-type]
        isolation="process",
        error=error,
        folder=name,
        unwritten=unwritten,
    )


def _fake_grade(
    monkeypatch: pytest.MonkeyPatch,
    results: list[Any],
    *,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """``api.grade`` replaced: it starts and finishes ``results`` in order, writing nothing but
    an index.html, and raises ``GradingInterrupted`` after ``stop_after`` of them."""
    from grader import api

    seen: dict[str, Any] = {}

    def grade(paths: Any, *, out: Path, on_start: Any, on_result: Any, **kw: Any) -> list[Any]:
        seen.update(kw, paths=paths, out=out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.html").write_text("<html></html>")
        finished = results[:stop_after]
        for result in finished:
            on_start(result.name, len(results))
            on_result(result, out / result.folder / "results.json")
        if stop_after is not None:
            raise api.GradingInterrupted(finished, [r.name for r in results[stop_after:]])
        return results

    monkeypatch.setattr(api, "grade", grade)
    return seen


def test_grade_reports_progress_and_a_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = [_graded("ada"), _graded("bob", error="the zip file is broken"), _graded("cy")]
    _fake_grade(monkeypatch, results)
    out = tmp_path / "out"
    assert main(["grade", str(tmp_path), "--out", str(out), "--sandbox", "process"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["ada", "bob", "cy"]
    assert all(line.endswith("results.json") for line in lines[:3])
    assert lines[3].startswith("3 submission(s) in 0:")
    assert lines[3].endswith(": 2 graded, 1 errored, mean score 1.3/3")
    assert lines[4:6] == ["errored (score 0):", "  bob: the zip file is broken"]
    assert lines[6] == f"results in {out}/; open {out / 'index.html'} for the class overview"
    progress = printed.err.splitlines()
    assert len(progress) == 3
    for i, (line, name) in enumerate(zip(progress, ["ada", "bob", "cy"], strict=True), 1):
        assert re.fullmatch(rf"\[{i}/3\] \d+:\d\d elapsed, ETA \d+:\d\d: finished {name}", line)


def test_ctrl_c_exits_130_with_what_was_not_graded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = [_graded(n) for n in ("ada", "bob", "cy", "dee")]
    _fake_grade(monkeypatch, results, stop_after=1)
    out = tmp_path / "out"
    assert main(["grade", str(tmp_path), "--out", str(out), "--sandbox", "process"]) == 130
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].startswith("ada ") and lines[1].startswith("1 submission(s) in ")
    assert lines[2] == "interrupted: 3 submission(s) not graded: bob, cy, dee"
    assert lines[3] == f"results in {out}/; open {out / 'index.html'} for the class overview"
    assert "Traceback" not in printed.err


def test_ctrl_c_in_check_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader import api

    def check(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "check", check)
    assert main(["check", str(tmp_path), "--sandbox", "process"]) == 130
    assert capsys.readouterr().err == "nngrader: interrupted\n"


def test_a_submission_not_written_exits_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_grade(monkeypatch, [_graded("ada"), _graded("bob", unwritten="OSError: disk full")])
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert "bob" in out and "NOT WRITTEN (OSError: disk full)" in out
    assert "1 submission(s) graded but NOT WRITTEN:\n  bob: OSError: disk full\n" in out


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], {"executor": "local", "scheduler": None, "regrade": False, "jobs": 1}),
        (["--regrade", "--jobs", "3"], {"executor": "local", "regrade": True, "jobs": 3}),
        (["--executor", "dask", "--jobs", "2"], {"executor": "dask", "scheduler": None}),
        (["--scheduler", "tcp://s:1"], {"executor": "dask", "scheduler": "tcp://s:1"}),
        (["--executor", "dask", "--scheduler", "tls://s:2"], {"executor": "dask",
                                                              "scheduler": "tls://s:2"}),
    ],
)  # fmt: skip
def test_the_batch_options_reach_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: list[str], expected: dict[str, Any]
) -> None:
    seen = _fake_grade(monkeypatch, [_graded("ada")])
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), *options]) == 0
    assert {k: seen[k] for k in expected} == expected


@pytest.mark.parametrize("options", [["--executor", "local", "--scheduler", "tcp://s:1"],
                                     ["--executor", "threads"], ["--jobs", "0"]])  # fmt: skip
def test_a_contradictory_batch_option_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    seen = _fake_grade(monkeypatch, [_graded("ada")])
    try:
        code = main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), *options])
    except SystemExit as exit:
        code = int(exit.code or 0)
    assert code == 2 and not seen
    assert "error:" in capsys.readouterr().err


def test_a_resumed_batch_says_what_it_keeps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader import api

    def grade(paths: Any, *, out: Path, on_resume: Any, **kw: Any) -> list[Any]:
        on_resume(0, 2)  # a fresh folder: nothing said
        on_resume(2, 1)
        return [_graded("ada"), _graded("bob"), _graded("cy")]

    monkeypatch.setattr(api, "grade", grade)
    out = tmp_path / "o"
    assert main(["grade", str(tmp_path), "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"2 submission(s) keep their results from an earlier run into {out} (--regrade grades "
        "them again); 1 to grade"
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "grade", "P", "--out", "O"],
        ["grade", "-v", "P", "--out", "O"],
        ["grade", "P", "--out", "O", "-v"],
        ["grade", "P", "--out", "O", "--verbose"],
        ["-vv", "grade", "P", "--out", "O"],
        ["-v", "grade", "P", "--out", "O", "-v"],
    ],
)
def test_verbose_works_anywhere_on_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]
) -> None:
    import logging

    import grader.cli

    levels: list[int] = []
    monkeypatch.setattr(grader.cli.logging, "basicConfig", lambda **kw: levels.append(kw["level"]))
    _fake_grade(monkeypatch, [])
    argv = [str(tmp_path) if a == "P" else str(tmp_path / "o") if a == "O" else a for a in argv]
    assert main(argv) == 0
    count = sum(a.count("v") for a in argv if a.startswith("-v")) + argv.count("--verbose")
    assert levels == [logging.INFO if count == 1 else logging.DEBUG]


def _subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every (nested) subcommand: its words, its parser and its one-line help."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(((*path, name), sub, helps.get(name)))
                found.extend(_subcommands(sub, (*path, name)))
    return found


def test_every_subcommand_describes_itself() -> None:
    commands = _subcommands(build_parser())
    assert {" ".join(words) for words, _, _ in commands} >= {
        "grade", "check", "report", "evaluate", "data", "data verify", "list", "spec",
        "spec validate", "selftest",
    }  # fmt: skip
    for words, parser, summary in commands:
        assert summary and len(summary) <= 80, words
        assert parser.description and parser.description.startswith(summary[0].upper()), words
        assert "-v, --verbose" in parser.format_help(), words
    epilogs = {" ".join(w): p.format_help() for w, p, _ in commands}
    for command in ("grade", "check"):
        codes = re.findall(r"^  (\d+) ", epilogs[command].split("exit codes:")[1], re.M)
        assert codes == ["0", "1", "2", "3", "130"], command


def _readme_commands() -> list[tuple[list[str], list[str]]]:
    """Each row of README's command table: the subcommand's words and the options it names."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        usage = re.match(r"\| `nngrader ([^`]*)`", line)
        if usage:
            words = list(itertools.takewhile(lambda w: re.fullmatch("[a-z]+", w), usage[1].split()))
            rows.append((words, re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)))
    return rows


def test_the_readme_names_only_options_that_exist() -> None:
    parsers = {tuple(words): parser for words, parser, _ in _subcommands(build_parser())}
    rows = _readme_commands()
    assert {" ".join(words) for words, _ in rows} >= {"grade", "check", "report", "list"}
    for words, options in rows:
        parser = parsers[tuple(words)]
        unknown = [o for o in options if o not in parser._option_string_actions]
        assert not unknown, f"README says `nngrader {' '.join(words)}` takes {unknown}"
    grade = next(options for words, options in rows if words == ["grade"])
    assert {"--out", "--jobs", "--junit", "--summary", "--sandbox"} <= set(grade)


def test_the_readme_documents_the_exit_codes() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    codes = text.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| (\d+) \|", codes, re.M) == ["0", "1", "2", "3", "130"]


def test_the_check_table_fits_an_80_column_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    from grader import api

    long = replace(
        _check("batchnorm_backward_alt", "failed", 2.0),  # type: ignore[type-var]
        message="worst element dx[3, 17]: got 1.2345678e-03, expected 1.2345e-03 " * 5
        + "\x1b[2J\r" + "y" * 120,
    )  # fmt: skip
    monkeypatch.setattr(api, "check", lambda *a, **k: _result(long))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["check", str(tmp_path)]) == 1
    table = capsys.readouterr().out
    assert max(map(len, table.splitlines())) <= 80 and "1.2345e-03" in table
    assert not {c for c in table if ord(c) < 0x20 and c != "\n"}


def _fake_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JUnit and Markdown writers replaced by fakes that name the results they were given."""
    from grader.report import junit, markdown

    monkeypatch.setattr(
        junit, "junit_xml", lambda results: f"<junit>{','.join(r.name for r in results)}</junit>"
    )
    monkeypatch.setattr(markdown, "summary_markdown", lambda results: f"# {len(results)} graded\n")


@pytest.mark.parametrize("command", ["grade", "check"])
def test_junit_and_summary_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str
) -> None:
    from grader import api

    _fake_reports(monkeypatch)
    _fake_grade(monkeypatch, [_graded("ada"), _graded("bob")])
    monkeypatch.setattr(api, "check", lambda *a, **k: _result(_check("a", "passed", 1.0)))
    step = tmp_path / "step-summary.md"
    step.write_text("an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    junit, summary = tmp_path / "reports" / "junit.xml", tmp_path / "summary.md"
    summary.write_text("an old summary, replaced whole\n")
    where = ["--out", str(tmp_path / "out")] if command == "grade" else []
    options = ["--junit", str(junit), "--summary", str(summary)]
    for _ in range(2):
        assert main([command, str(tmp_path), *where, *options]) == 0
    names = "ada,bob" if command == "grade" else "s"
    assert junit.read_text() == f"<junit>{names}</junit>"
    assert summary.read_text() == f"# {len(names.split(','))} graded\n"
    assert step.read_text() == "an earlier step's summary\n" + summary.read_text() * 2
    assert not list(tmp_path.rglob(".*.partial"))


def test_a_summary_that_is_the_step_summary_is_appended_not_replaced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_reports(monkeypatch)
    _fake_grade(monkeypatch, [_graded("ada")])
    step = tmp_path / "step.md"
    step.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--summary", str(step)]) == 0
    assert step.read_text() == "earlier\n# 1 graded\n"


def test_a_report_file_that_cannot_be_written_is_a_setup_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_reports(monkeypatch)
    _fake_grade(monkeypatch, [_graded("ada")])
    (tmp_path / "file").write_text("not a folder")
    junit = tmp_path / "file" / "junit.xml"
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--junit", str(junit)]) == 3
    assert f"nngrader: error: {junit}: cannot write it" in capsys.readouterr().err


def test_report_rerenders_without_regrading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grader.errors import GraderError
    from grader.report import rerender

    calls: list[tuple[Path, bool]] = []

    def fake(out: Path, *, release: bool) -> list[Any]:
        calls.append((out, release))
        if out.name == "broken":
            raise GraderError(f"{out} holds no */instructor.json")
        (out / "index.html").write_text("<html></html>")
        return [_graded("ada"), _graded("bob")]

    monkeypatch.setattr(rerender, "rerender", fake)
    assert main(["report", str(tmp_path), "--release"]) == 0
    assert main(["report", "-v", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "re-rendered 2 submission(s) (released: the checks withheld until release are shown)"
    )
    assert (
        lines[1] == f"results in {tmp_path}/; open {tmp_path / 'index.html'} for the class overview"
    )
    assert lines[2] == "re-rendered 2 submission(s)"
    assert calls == [(tmp_path, True), (tmp_path, False)]
    (tmp_path / "broken").mkdir()
    assert main(["report", str(tmp_path / "broken")]) == 3
    assert "holds no */instructor.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["report", str(tmp_path / "index.html")])  # a file, not a folder
    assert info.value.code == 2
