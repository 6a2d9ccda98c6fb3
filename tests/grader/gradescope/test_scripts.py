"""The two scripts of the Gradescope zip: they parse as bash, take the build's choices as data,
and ``run_autograder`` leaves a valid results.json whatever the Python it calls does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.gradescope import scripts
from grader.report.validate import validate

ROOT = Path(__file__).resolve().parents[3]
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="the scripts are bash")


def run_autograder(tmp_path: Path, **choices: Any) -> Path:
    """The rendered ``run_autograder``, executable, in ``tmp_path``."""
    values: dict[str, Any] = {
        "assignment": "cs231n-2021",
        "label": "cs231n-2021",
        "max_score": 59.0,
        "sandbox": "fallback",
        "limits": {"submission_seconds": 480.0},
        **choices,
    }
    script = tmp_path / "run_autograder"
    script.write_text(scripts.run_script(**values))
    script.chmod(0o755)
    return script


def fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for the grader's Python: a shell script with ``body``."""
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    return fake


def autograder_root(tmp_path: Path) -> Path:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    return root


def run(
    script: Path, root: Path, python: Path | str, **env: str
) -> subprocess.CompletedProcess[str]:
    variables = {**os.environ, "AUTOGRADER_ROOT": str(root), "NNGRADER_PYTHON": str(python), **env}
    return subprocess.run(
        [str(script)], env=variables, cwd=root, capture_output=True, text=True, timeout=120
    )


def results(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "results" / "results.json").read_text("ascii"))
    validate("results", doc)
    return doc


@pytest.mark.parametrize("name", [scripts.SETUP, scripts.RUN])
def test_both_scripts_parse_as_bash(tmp_path: Path, name: str) -> None:
    text = (
        scripts.setup_script(wheel="nngrader-0.1.0-py3-none-any.whl")
        if name == scripts.SETUP
        else run_autograder(tmp_path).read_text()
    )
    assert text.startswith("#!/usr/bin/env bash\n")
    done = subprocess.run(
        [str(BASH), "-n"], input=text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_template_placeholder_without_a_value_or_a_value_without_one_is_refused() -> None:
    with pytest.raises(ValueError, match="@WHEEL@"):
        scripts.render(scripts.SETUP, {})
    with pytest.raises(ValueError, match="@NOPE@"):
        scripts.render(scripts.SETUP, {"WHEEL": "w.whl", "NOPE": "x"})
    with pytest.raises(ValueError, match="not a path"):
        scripts.setup_script(wheel="../w.whl")


def test_the_wheel_name_is_data_in_setup_sh() -> None:
    name = "nngrader-0.1.0 it's $(x)-py3-none-any.whl"
    line = next(
        ln for ln in scripts.setup_script(wheel=name).splitlines() if ln.startswith("WHEEL=")
    )
    shell = f'HERE=/x; {line}; printf %s "$WHEEL"'
    done = subprocess.run([str(BASH), "-c", shell], capture_output=True, text=True, check=True)
    assert done.stdout == f"/x/{name}"


def test_the_build_choices_reach_the_grader_as_data_never_as_shell_code(tmp_path: Path) -> None:
    """An id with quotes, ``$(...)`` and ``;`` arrives as one argument, and nothing runs."""
    hostile = "x'$(touch PWNED); \"y`touch PWNED`"
    script = run_autograder(
        tmp_path, assignment=hostile, label=hostile, limits={"memory_bytes": 2**29}
    )
    root = autograder_root(tmp_path)
    args = tmp_path / "args"
    fake = fake_python(tmp_path, f'for a in "$@"; do printf "%s\\n" "$a"; done > {args}')
    done = run(script, root, fake)
    assert done.returncode == 0, done.stderr
    assert args.read_text().splitlines() == [
        "-m",
        "grader.gradescope.run",
        "--root",
        str(root),
        "--assignment",
        hostile,
        "--sandbox=fallback",
        "--limit=memory_bytes=536870912",
    ]
    assert not list(tmp_path.rglob("PWNED"))
    assert results(root)["extra_data"]["assignment"] == hostile  # the fallback's JSON is valid


def test_when_the_grader_writes_nothing_a_score_0_results_json_says_why(tmp_path: Path) -> None:
    root = autograder_root(tmp_path)
    stale = root / "results" / "results.json"
    stale.write_text('{"score": 59}')  # an earlier run's: never taken for this one's
    noise = 'Traceback: "quoted" back\\\\slash\ttab caf\u00e9 %s \\\\n'
    fake = fake_python(tmp_path, f"printf '%s\\n' '{noise}' >&2\nexit 3")
    done = run(run_autograder(tmp_path), root, fake)
    assert done.returncode == 0, done.stderr
    doc = results(root)
    assert doc["score"] == 0 and doc["tests"] == []
    assert doc["extra_data"]["max_score"] == 59.0
    assert doc["extra_data"]["error"] == (
        "nngrader stopped with exit status 3 before writing results.json"
    )
    assert "The autograder failed" in doc["output"] and doc["extra_data"]["error"] in doc["output"]
    # The last lines printed go to the instructor alone (a traceback may quote the grader's
    # code), in printable ASCII: quotes and backslashes kept, the rest as ?.
    last = 'Traceback: "quoted" back\\\\slash?tab caf?? %s \\\\n'
    assert doc["extra_data"]["last_lines"] == last
    assert "Traceback" not in doc["output"]
    assert "score-0" in done.stdout


def test_a_missing_grader_python_is_named(tmp_path: Path) -> None:
    root = autograder_root(tmp_path)
    done = run(run_autograder(tmp_path), root, tmp_path / "no-such-python")
    assert done.returncode == 0, done.stderr
    doc = results(root)
    assert doc["score"] == 0
    assert "was not found: did setup.sh run?" in doc["extra_data"]["error"]


def test_a_killed_grader_is_said_to_be_killed(tmp_path: Path) -> None:
    root = autograder_root(tmp_path)
    done = run(run_autograder(tmp_path), root, fake_python(tmp_path, "kill -9 $$"))
    assert done.returncode == 0, done.stderr
    assert "killed (SIGKILL)" in results(root)["extra_data"]["error"]


def test_a_grader_that_cannot_load_its_assignment_writes_the_reason_itself(tmp_path: Path) -> None:
    """The real ``grader.gradescope.run`` with this interpreter: its own score-0 document."""
    root = autograder_root(tmp_path)
    script = run_autograder(tmp_path, assignment="no-such-course", label="no-such-course")
    done = run(script, root, sys.executable, PYTHONPATH=str(ROOT))
    assert done.returncode == 0, done.stderr
    doc = results(root)
    assert doc["score"] == 0
    assert "unknown assignment 'no-such-course'" in doc["output"]
    assert "stopped with exit status" not in doc["output"]  # written by nngrader, not the script
    assert "Traceback" in done.stdout  # for the instructor, on Gradescope's stdout


def test_limit_options_are_whole_numbers_where_they_can_be() -> None:
    assert scripts.limit_option("memory_bytes", 2**29) == "--limit=memory_bytes=536870912"
    assert scripts.limit_option("check_seconds", 480.0) == "--limit=check_seconds=480"
    assert scripts.limit_option("check_seconds", 2.5) == "--limit=check_seconds=2.5"
