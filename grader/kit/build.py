"""``nngrader kit``: build a course's student kit, a wheel that checks the public checks offline
and holds no solution.

Stages, data flowing one way:

    public spec -> record answers -> stage a tree -> pip wheel -> check it -> write the kit

The staged tree holds the grader's engine, the course's given modules (``reference.solver``,
``gradient_check``, ``data``), the public spec (``grader.kit.public_spec``) and the recorded
answers (``grader.kit.tables``) in the package ``nngrader_kit``. It never holds ``SOLUTIONS``:
the reference's solution modules, and the grader's modules that compute variants of them (known
mistakes, valid variants). The kit's folder is what an assignment repository adds: the wheel
under ``.nngrader/``, the CI workflow under ``.github/workflows/`` and a README for students
(``grader.kit.files``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import tomli_w

from grader import __version__
from grader.errors import GraderError
from grader.gradescope.wheel import pip_wheel, source_tree
from grader.kit.files import KitInfo, readme, workflow
from grader.kit.public_spec import read_toml, write_public_spec
from grader.kit.record import record_answers
from grader.spec import Spec

__all__ = ["SOLUTIONS", "Kit", "build_kit", "kit_name"]

SOLUTIONS = (
    "reference/layers.py",
    "reference/layer_utils.py",
    "reference/optim.py",
    "reference/fc_net.py",
    "reference/fixtures.py",  # the notebook fixtures run the solutions
    "grader/checks/mistakes/",
    "grader/checks/variants.py",
)
"""What a kit never holds (paths in the source tree; a folder ends with ``/``)."""
PACKAGES = ("grader*", "reference*", "assignments*")
WHEEL_DIR = ".nngrader"
WORKFLOW = ".github/workflows/nngrader.yml"
README = "NNGRADER.md"
_SKIPPED = ("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".*")


@dataclass(frozen=True)
class Kit:
    """A built kit: its folder, its wheel and what it checks."""

    folder: Path
    wheel: Path
    info: KitInfo


def kit_name(spec: Spec, offering: str | None = None) -> str:
    """The kit's distribution name, ``nngrader-kit-<spec id>[-<offering>]``."""
    name = f"nngrader-kit-{spec.id}" + (f"-{offering}" if offering else "")
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).lower()


def _solution(rel: PurePosixPath) -> bool:
    text = rel.as_posix()
    return any(text == s or (s.endswith("/") and text.startswith(s)) for s in SOLUTIONS)


def _copy_package(source: Path, tree: Path, package: str) -> None:
    for path in sorted((source / package).rglob("*")):
        rel = PurePosixPath(path.relative_to(source).as_posix())
        skipped = any(PurePosixPath(p).match(g) for p in rel.parts for g in _SKIPPED)
        if path.is_file() and not skipped and not _solution(rel):
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tree / rel)


def _pyproject(source: Path, spec: Spec, name: str) -> dict[str, Any]:
    """The kit's project: nngrader's dependencies and command, its own name and data."""
    ours = read_toml(source / "pyproject.toml")
    data = dict(ours["tool"]["setuptools"]["package-data"])
    data["nngrader_kit"] = ["*.json", "*.npz"]
    return {
        "build-system": ours["build-system"],
        "project": {
            "name": name,
            "version": __version__,
            "description": f"Student kit of nngrader for {spec.title}: the public checks.",
            "readme": "README.md",
            "requires-python": ours["project"]["requires-python"],
            "dependencies": ours["project"]["dependencies"],
            "scripts": ours["project"]["scripts"],
        },
        "tool": {
            "setuptools": {
                "packages": {"find": {"include": [*PACKAGES, "nngrader_kit*"]}},
                "package-data": data,
            }
        },
    }


def _stage(source: Path, tree: Path, spec: Spec, info: KitInfo, answers: Path) -> None:
    """Lay out the kit's project in ``tree``."""
    for package in ("grader", "reference"):
        _copy_package(source, tree, package)
    (tree / "assignments").mkdir()
    shutil.copy2(source / "assignments" / "__init__.py", tree / "assignments")
    write_public_spec(spec, tree / "assignments")
    kit = tree / "nngrader_kit"
    kit.mkdir()
    (kit / "__init__.py").write_text(
        '"""The data of an nngrader student kit (grader.kit.installed reads it)."""\n',
        encoding="utf-8",
    )
    (kit / "manifest.json").write_text(json.dumps(info.manifest(), indent=2), encoding="utf-8")
    for name in ("answers.json", "arrays.npz"):
        shutil.copy2(answers / name, kit / name)
    (tree / "README.md").write_text(readme(info), encoding="utf-8")
    project = _pyproject(source, spec, info.distribution)
    (tree / "pyproject.toml").write_text(tomli_w.dumps(project), encoding="utf-8")


def check_kit_wheel(wheel: Path) -> None:
    """Refuse a wheel that holds a solution file or lacks the kit's data.

    Raises:
        GraderError: naming the file.
    """
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    bad = [n for n in names if _solution(PurePosixPath(n))]
    if bad:
        raise GraderError(f"{wheel.name} holds {bad[0]}: a kit must not hold solutions")
    for needed in ("nngrader_kit/manifest.json", "nngrader_kit/answers.json", "grader/cli.py"):
        if needed not in names:
            raise GraderError(f"{wheel.name} lacks {needed}")


def _recorded(spec: Spec, solution: Path, answers: Path) -> None:
    """Record the public checks' answers on ``solution``, which must pass every one of them."""
    oracle, (result,) = record_answers(spec, [solution])
    wrong = [c.check_id for c in result.checks if c.counts and c.status != "passed"]
    if wrong:
        raise GraderError(
            f"{solution} does not pass the public checks {', '.join(wrong)}: a kit is recorded "
            "on a correct solution (--solution DIR)"
        )
    oracle.save(answers)


def build_kit(spec: Spec, out: Path, *, offering: str | None, solution: Path | None = None) -> Kit:
    """Build ``spec``'s kit (``offering`` applied) into ``out``.

    Args:
        solution: a correct submission of the course to record the answers on (default: the
            bundled ``examples/<spec id>/correct`` of the source tree).

    Raises:
        GraderError: no source tree, no correct solution, or the wheel could not be built.
    """
    source = source_tree()
    solution = solution or source / "examples" / spec.id / "correct"
    if not solution.is_dir():
        raise GraderError(
            f"no correct solution of {spec.id} at {solution} to record the kit's answers on: "
            "pass --solution DIR"
        )
    assignment = spec.id if offering is None else f"{spec.id}@{offering}"
    public = spec.public()
    info = KitInfo(
        assignment=assignment,
        title=spec.title,
        distribution=kit_name(spec, offering),
        version=__version__,
        wheel="",
        checks=len(public.active_checks()),
        points=sum(c.points for c in public.active_checks()),
        instructor_points=spec.kit_withheld_points(),
    )
    with tempfile.TemporaryDirectory(prefix="nngrader-kit-") as tmp:
        answers, tree = Path(tmp) / "answers", Path(tmp) / "src"
        _recorded(spec, solution, answers)
        _stage(source, tree, spec, info, answers)
        built = pip_wheel(tree, Path(tmp) / "dist", info.distribution)
        check_kit_wheel(built)
        (out / WHEEL_DIR).mkdir(parents=True, exist_ok=True)
        for old in (out / WHEEL_DIR).glob(f"{info.distribution.replace('-', '_')}-*.whl"):
            old.unlink()
        wheel = out / WHEEL_DIR / built.name
        shutil.copyfile(built, wheel)
    info = info.with_wheel(f"{WHEEL_DIR}/{wheel.name}")
    (out / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
    (out / WORKFLOW).write_text(workflow(info), encoding="utf-8")
    (out / README).write_text(readme(info), encoding="utf-8")
    return Kit(out, wheel, info)
