"""The student kit as students and CI get it: built by ``nngrader kit``, installed into a clean
virtual environment, run from there.

It holds no solution (no source line run, no bytecode, no module of a solution or of a variant
of one); its ``check`` agrees with the full grader on the public checks of every bundled example
of its course; it runs offline, without bubblewrap and without Linux's facilities; and the CI
workflow it writes runs, step by step, in a repository of its own.
"""

from __future__ import annotations

import ast
import json
import marshal
import os
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from grader.cli import main
from tests.bundled import CHECK_SECONDS, EXAMPLES, ROOT, BundledResults

pytestmark = pytest.mark.slow

COURSE = "cs231n-2021"
SOLUTION_MODULES = ("layers", "layer_utils", "optim", "fc_net")


class Kit:
    def __init__(self, folder: Path, venv: Path) -> None:
        self.folder, self.venv = folder, venv
        self.bin = venv / "bin"
        found = list(venv.glob("lib/python*/site-packages"))
        self.site = found[0]

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "nngrader"), *args],
            capture_output=True, text=True, timeout=600, cwd=cwd, env=env, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    folder = tmp_path_factory.mktemp("kit")
    assert main(["kit", "--assignment", COURSE, "--out", str(folder)]) == 0
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (wheel,) = (folder / ".nngrader").glob("*.whl")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", str(wheel)],
        check=True, timeout=900,
    )  # fmt: skip
    return Kit(folder, venv)


def installed_files(kit: Kit, suffix: str) -> Iterator[Path]:
    for package in ("grader", "reference", "assignments", "nngrader_kit"):
        yield from (kit.site / package).rglob(f"*{suffix}")


def given_functions() -> set[str]:
    """The starters' own composites (``affine_relu_forward``...): every student is given them,
    and the kit carries them as the stand-in of a missing ``layer_utils.py``."""
    stand_in = ROOT / "grader" / "workspace" / "stand_ins" / "layer_utils.py"
    tree = ast.parse(stand_in.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def solution_functions() -> Iterator[tuple[str, ast.FunctionDef, list[str]]]:
    """Every function of the reference's solution modules, with its source lines (the given
    composites left out)."""
    given = given_functions()
    for name in SOLUTION_MODULES:
        source = (ROOT / "reference" / f"{name}.py").read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and not (
                name == "layer_utils" and node.name in given
            ):
                yield name, node, lines


def body_lines(node: ast.FunctionDef, lines: list[str]) -> list[str]:
    """The function's statements (its docstring left out), stripped, comments and blanks gone."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    if not body:
        return []
    start, end = body[0].lineno, body[-1].end_lineno or body[-1].lineno
    found = [ln.split("#")[0].strip() for ln in lines[start - 1 : end]]
    return [ln for ln in found if ln and ln not in ("else:", "return", "pass", ")", "]")]


def test_no_solution_source_is_installed(kit: Kit) -> None:
    installed = [
        [ln.split("#")[0].strip() for ln in p.read_text(encoding="utf-8").splitlines()]
        for p in installed_files(kit, ".py")
    ]
    texts = ["\n".join(ln for ln in lines if ln) for lines in installed]
    checked = 0
    for module, node, lines in solution_functions():
        body = body_lines(node, lines)
        # Three consecutive statements' lines of a solution, anywhere: a copy, not a coincidence.
        for i in range(max(len(body) - 2, 1)):
            window = "\n".join(body[i : i + 3])
            if len(window) < 40:
                continue
            checked += 1
            assert not any(window in text for text in texts), (module, node.name, window)
    assert checked > 100  # the search did look at the solutions


def code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


def test_no_solution_bytecode_is_installed(kit: Kit) -> None:
    # The venv runs this interpreter's version, so a solution compiled here is byte-identical.
    subprocess.run([str(kit.bin / "python"), "-m", "compileall", "-q", str(kit.site)], check=True)
    installed = set()
    for pyc in installed_files(kit, ".pyc"):
        top = marshal.loads(pyc.read_bytes()[16:])  # noqa: S302 - pip's own compile of our files
        installed |= {c.co_code for c in code_objects(top)}
    assert installed
    solutions = []
    for name in SOLUTION_MODULES:
        path = ROOT / "reference" / f"{name}.py"
        top = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        solutions += [
            c
            for c in code_objects(top)
            if c.co_name not in ("<module>", *given_functions()) and len(c.co_code) > 40
        ]
    assert len(solutions) > 20
    assert not [c.co_name for c in solutions if c.co_code in installed]


def test_importing_a_solution_or_a_variant_of_one_fails(kit: Kit) -> None:
    probe = (
        "import importlib, json\n"
        "out = {}\n"
        "for name in ['reference.layers', 'reference.layer_utils', 'reference.optim',\n"
        "             'reference.fc_net', 'reference.fixtures', 'grader.checks.mistakes',\n"
        "             'grader.checks.variants', 'grader.cli', 'reference.solver']:\n"
        "    try:\n"
        "        importlib.import_module(name); out[name] = 'imported'\n"
        "    except ModuleNotFoundError:\n"
        "        out[name] = 'missing'\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(kit.bin / "python"), "-c", probe], capture_output=True, text=True, check=True,
        cwd=kit.folder,  # not the checkout: its packages must not be importable from here
    )  # fmt: skip
    found = json.loads(done.stdout)
    assert found.pop("grader.cli") == "imported" and found.pop("reference.solver") == "imported"
    assert set(found.values()) == {"missing"}, found
    assert not (kit.site / "grader" / "checks" / "mistakes").exists()


def test_check_agrees_with_the_full_grader_on_every_bundled_example(
    kit: Kit, bundled_results: BundledResults
) -> None:
    for path in sorted(p for p in (EXAMPLES / COURSE).iterdir() if p.is_dir()):
        done = kit.run(
            "check", str(path), "--format", "json", "--timeout", str(CHECK_SECONDS),
            cwd=kit.folder,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        tests = json.loads(done.stdout)["tests"]
        full = {c.check_id: c for c in bundled_results.result(f"{COURSE}/{path.name}").checks}
        public = {k: c for k, c in full.items() if c.visibility == "visible"}
        got = {t["extra_data"]["check_id"]: (t["extra_data"]["status"], t["score"]) for t in tests}
        assert got == {k: (c.status, c.score) for k, c in public.items()}, path.name
        assert done.returncode == (0 if all(s == "passed" for s, _ in got.values()) else 1)


def test_runs_offline_without_bubblewrap_or_linux_facilities(kit: Kit, tmp_path: Path) -> None:
    env = {
        "PATH": str(kit.bin),  # no bwrap on it
        "HOME": str(tmp_path),
        "NNGRADER_SIMULATE_MISSING": "prctl,resource,fcntl,cgroup",
    }
    command = [str(kit.bin / "nngrader"), "check", str(EXAMPLES / COURSE / "correct")]
    unshare = shutil.which("unshare")
    if unshare and os.geteuid() == 0:
        command = [unshare, "--net", *command]  # no network at all: a new, empty namespace
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("No isolation here") == 1
    assert "16 more points are graded by your instructor" in done.stdout
    assert "FAIL" not in done.stdout and "ERROR" not in done.stdout


def test_the_workflow_runs_step_by_step_in_an_assignment_repo(kit: Kit, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(kit.folder, repo)
    shutil.copytree(EXAMPLES / COURSE / "bug-relu-backward", repo, dirs_exist_ok=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)  # noqa: S607
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "nngrader.yml").read_text())
    steps = [s["run"] for s in workflow["jobs"]["check"]["steps"] if "run" in s]
    assert len(steps) == 2
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{kit.bin}:{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}  # fmt: skip
    env.pop("PYTHONPATH", None)
    install = subprocess.run(  # noqa: S602 - the workflow's own step, as the runner runs it
        steps[0], shell=True, cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert install.returncode == 0, install.stderr
    check = subprocess.run(  # noqa: S602
        steps[1], shell=True, cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 1  # relu_backward is wrong: the run goes red
    layers = (repo / "cs231n" / "layers.py").read_text().splitlines()
    start = next(i for i, ln in enumerate(layers, 1) if ln.startswith("def relu_backward"))
    errors = [
        ln for ln in check.stdout.splitlines() if ln.startswith("::error file=cs231n/layers.py,")
    ]
    lines = {int(ln.split("line=")[1].split(",")[0].split("::")[0]) for ln in errors}
    assert start in lines or any(start <= n < start + 40 for n in lines), check.stdout
    report = ET.parse(repo / "nngrader-report.xml").getroot()  # noqa: S314 - our own report
    assert report.tag == "testsuites" and int(report.get("failures", "0")) > 0
    assert "38 / 53 points" in summary.read_text(encoding="utf-8")
