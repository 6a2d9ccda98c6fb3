"""``nngrader gradescope build``: the zip Gradescope takes, its wheel, and the zip at work.

The fast tests put a stand-in wheel in (every file name of the packages, no content); the slow
ones build the real wheel with pip, install it the way ``setup.sh`` does into a venv in tmp, and
run ``run_autograder`` on a fake ``/autograder`` holding the bundled correct submission.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader import __version__
from grader.cli import main
from grader.errors import GraderError
from grader.gradescope import wheel as wheels
from grader.gradescope.bundle import GRADESCOPE_SECONDS, build_bundle
from grader.report.validate import validate

ROOT = Path(__file__).resolve().parents[3]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
GOLDEN = ROOT / "tests" / "goldens" / "results" / "cs231n-2021" / "correct.json"
WHEEL_NAME = f"nngrader-{__version__}-py3-none-any.whl"
BASH = shutil.which("bash")


def stand_in_wheel(folder: Path, names: set[str] | None = None) -> Path:
    """A wheel-named zip holding ``names`` (default: every file of the packages), all empty."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WHEEL_NAME
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(wheels.package_files() if names is None else names):
            archive.writestr(name, b"")
    return path


def members(zip_path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as archive:
        return {info.filename: info for info in archive.infolist()}


def read(zip_path: Path, name: str) -> str:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.read(name).decode()


def test_the_zip_has_both_scripts_at_its_root_executable_and_the_wheel(tmp_path: Path) -> None:
    out = tmp_path / "out"
    zipped = build_bundle(assignment="cs231n-2021", out=out, wheel=stand_in_wheel(tmp_path / "w"))
    assert zipped == out / "nngrader-gradescope-cs231n-2021.zip"
    assert sorted(os.listdir(out)) == [zipped.name]  # no partial file left beside it
    found = members(zipped)
    assert list(found) == ["setup.sh", "run_autograder", WHEEL_NAME]
    for name, info in found.items():
        assert info.create_system == 3  # Unix, so that the modes below are read
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode)
        assert stat.S_IMODE(mode) == (0o644 if name == WHEEL_NAME else 0o755), name
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert f'WHEEL="$HERE"/{WHEEL_NAME}\n' in read(zipped, "setup.sh")
    script = read(zipped, "run_autograder")
    assert '--assignment "$ASSIGNMENT" --sandbox=fallback' in script
    assert "ASSIGNMENT=cs231n-2021\n" in script and "MAX_SCORE=59.0\n" in script
    assert f"--limit=submission_seconds={GRADESCOPE_SECONDS:g} " in script


def test_the_instructors_own_limits_and_sandbox_choice_are_written_in(tmp_path: Path) -> None:
    zipped = build_bundle(
        assignment="cs231n-2021@2025",
        out=tmp_path / "out",
        sandbox="process",
        limits={"submission_seconds": 1200.0, "memory_bytes": 2**29},
        wheel=stand_in_wheel(tmp_path / "w"),
    )
    assert zipped.name == "nngrader-gradescope-cs231n-2021@2025.zip"
    script = read(zipped, "run_autograder")
    assert "ASSIGNMENT=cs231n-2021@2025\n" in script
    options = "--sandbox=process --limit=memory_bytes=536870912 --limit=submission_seconds=1200 "
    assert options in script


def test_a_spec_file_goes_into_the_zip_and_is_graded_from_there(tmp_path: Path) -> None:
    spec = tmp_path / "my-course.toml"
    shutil.copyfile(ROOT / "assignments" / "cs231n-2021.toml", spec)
    zipped = build_bundle(
        assignment=str(spec), out=tmp_path / "out", wheel=stand_in_wheel(tmp_path)
    )
    assert zipped.name == "nngrader-gradescope-cs231n-2021.zip"  # named after the spec's id
    assert read(zipped, "assignment.toml") == spec.read_text()
    assert 'ASSIGNMENT="$ROOT/source/assignment.toml"\n' in read(zipped, "run_autograder")


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"assignment": "no-such-course"}, "unknown assignment"),
        ({"assignment": "cs231n-2021", "sandbox": "auto"}, "unknown sandbox choice"),
        ({"assignment": "cs231n-2021", "limits": {"nope": 1.0}}, "unknown limits: nope"),
    ],
)
def test_a_wrong_choice_stops_the_build_before_anything_is_written(
    tmp_path: Path, choices: dict[str, Any], message: str
) -> None:
    with pytest.raises(GraderError, match=message):
        build_bundle(out=tmp_path / "out", wheel=tmp_path / "never-read.whl", **choices)
    assert not (tmp_path / "out").exists()


def test_a_wheel_that_lacks_a_package_file_is_refused_by_name(tmp_path: Path) -> None:
    schema = "grader/report/schemas/results.schema.json"
    partial = stand_in_wheel(tmp_path, wheels.package_files() - {schema})
    with pytest.raises(GraderError, match=f"lacks {schema}.*package-data"):
        wheels.check_wheel(partial)


def test_a_wheel_with_bytecode_or_of_another_version_is_refused(tmp_path: Path) -> None:
    cached = stand_in_wheel(tmp_path, {*wheels.package_files(), "grader/__pycache__/api.pyc"})
    with pytest.raises(GraderError, match="bytecode"):
        wheels.check_wheel(cached)
    other = cached.rename(tmp_path / "nngrader-0.0.1-py3-none-any.whl")
    with pytest.raises(GraderError, match=f"not a wheel of nngrader {__version__}"):
        wheels.check_wheel(other)


def test_the_command_line_builds_and_a_wrong_assignment_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = stand_in_wheel(tmp_path / "w")
    argv = ["gradescope", "build", "--assignment", "cs231n-2021", "--out", str(tmp_path / "out")]
    assert main([*argv, "--wheel", str(wheel), "--memory-mb", "512", "--sandbox", "bwrap"]) == 0
    written = tmp_path / "out" / "nngrader-gradescope-cs231n-2021.zip"
    assert f"wrote {written}" in capsys.readouterr().out
    assert "--sandbox=bwrap --limit=memory_bytes=536870912 " in read(written, "run_autograder")
    assert main([*argv[:3], "no-such-course", *argv[4:], "--wheel", str(wheel)]) == 3
    assert "unknown assignment 'no-such-course'" in capsys.readouterr().err


# -- the real wheel, installed and run --------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real zip for cs231n-2021, its wheel built from this tree by pip (once per module)."""
    return build_bundle(assignment="cs231n-2021", out=tmp_path_factory.mktemp("bundle"))


@pytest.mark.slow
def test_the_real_wheel_holds_the_package_data_and_no_bytecode(bundle: Path) -> None:
    assert list(members(bundle)) == ["setup.sh", "run_autograder", WHEEL_NAME]
    with zipfile.ZipFile(bundle) as outer, outer.open(WHEEL_NAME) as inner:
        names = set(zipfile.ZipFile(inner).namelist())
    specs = {f"assignments/{p.name}" for p in (ROOT / "assignments").glob("*.toml")}
    assert specs and specs <= names
    data = ("report/templates", "report/schemas", "workspace/stand_ins", "gradescope/templates")
    for folder in data:
        shipped = {f"grader/{folder}/{p.name}" for p in (ROOT / "grader" / folder).glob("*.*")}
        assert shipped and shipped <= names, folder
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.mark.slow
@pytest.mark.skipif(
    BASH is None or shutil.which("bwrap") is None or shutil.which("setpriv") is None,
    reason="setup.sh is bash, and would apt-get bubblewrap and util-linux here",
)
def test_setup_and_run_autograder_grade_the_correct_submission(
    bundle: Path, tmp_path: Path
) -> None:
    """As on Gradescope: the zip unpacked into source/, setup.sh run (twice: it is idempotent),
    run_autograder copied to the root and run there on the correct submission."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # extractall drops the modes; Gradescope keeps them
        (root / "source" / name).chmod(0o755)
    shutil.copytree(CORRECT, root / "submission")
    (root / "results").mkdir()
    venv = tmp_path / "venv"
    # The venv sees this interpreter's packages, so that pip finds the dependencies offline.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {
        **os.environ,
        "NNGRADER_VENV": str(venv),
        "PIP_NO_INDEX": "1",
        "AUTOGRADER_ROOT": str(root),
    }
    env.pop("PYTHONPATH", None)
    for _ in range(2):
        done = subprocess.run(
            [str(BASH), str(root / "source" / "setup.sh")],
            env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
            env=env, cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
    ).parents[1]  # fmt: skip
    assert site.is_relative_to(venv)  # the wheel's nngrader, not this checkout's
    for hidden in ("reference", "assignments", "grader"):
        assert stat.S_IMODE((site / hidden).stat().st_mode) & 0o077 == 0, hidden
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    done = subprocess.run(
        [str(root / "run_autograder")],
        env=env, cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((root / "results" / "results.json").read_text("ascii"))
    validate("results", doc)
    assert doc["score"] == json.loads(GOLDEN.read_text())["score"], doc["output"]
    assert doc["extra_data"]["submission"] == "submission"
    if doc["extra_data"]["isolation"] == "process":  # bwrap could not run: the report says so
        assert "--sandbox fallback" in doc["extra_data"]["notes"][0]
    else:
        assert doc["extra_data"]["isolation"] == "bwrap"
