"""Staging: the folders a submission's child sees, built from the discovered files.

* the **workspace**: the student's modules at their canonical course paths, the course's given
  modules replaced by our trusted copies (edits to them cannot change a grade), and stand-ins for
  course files the submission lacks;
* the **runtime**: our child package (``nngrader_child``) and the non-solution reference modules
  (``nngrader_given``), so the reference's answers never enter the child;
* a private, writable **scratch** folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.spec import Spec
from grader.workspace.discover import Discovery, copy_regular, find_files, regular_py

__all__ = ["GIVEN_SOURCES", "Staged", "stage", "stage_layout", "stage_runtime"]

CHILD_PACKAGE = Path(__file__).resolve().parent.parent / "child"
REFERENCE_DIR = Path(__file__).resolve().parent.parent.parent / "reference"
GIVEN_SOURCES = {"solver": "solver.py", "gradient_check": "gradient_check.py", "data": "data.py"}
"""Given module -> its file in ``reference/``: never a solution module."""
STAND_IN_DIR = Path(__file__).with_name("stand_ins")


@dataclass(frozen=True)
class Staged:
    """A submission laid out for its child: what the check stage runs against."""

    workspace: Path
    """Course layout the child imports the student's modules from (read-only in the sandbox)."""
    runtime: Path
    """``nngrader_child`` and ``nngrader_given`` (read-only in the sandbox)."""
    scratch: Path
    """The child's private writable folder."""
    output: Path
    """File that collects everything the child prints."""
    found: Mapping[str, Path]
    """Logical module -> the submission's file chosen for it."""
    alternatives: Mapping[str, tuple[Path, ...]]
    """Logical module -> the other files of the same name that were not chosen."""
    missing: tuple[str, ...]
    """Logical modules the submission lacks and no stand-in replaced."""
    not_found: tuple[str, ...]
    """Every logical module the submission lacks (stand-ins included)."""
    stand_ins: Mapping[str, str]
    """Course path -> stand-in kind written for it (``empty``, ``layer_utils``)."""


def stage(root: Path, spec: Spec, workdir: Path) -> Staged:
    """Lay out the submission under ``root`` for ``spec`` in ``workdir`` (created)."""
    found = find_files(root, spec.student_modules)
    workdir.mkdir(parents=True, exist_ok=True)
    workspace = stage_layout(found, spec.student_modules, workdir / "src")
    overlay_given(spec, workspace)
    stood_in = add_stand_ins(spec, workspace)
    runtime = stage_runtime(workdir / "runtime")
    scratch = workdir / "scratch"
    scratch.mkdir()
    missing = tuple(m for m in found.missing if spec.student_modules[m] not in stood_in)
    return Staged(
        workspace=workspace,
        runtime=runtime,
        scratch=scratch,
        output=workdir / "output.txt",
        found=found.found,
        alternatives={k: tuple(v) for k, v in found.ambiguous.items()},
        missing=missing,
        not_found=tuple(found.missing),
        stand_ins=stood_in,
    )


def stage_layout(discovery: Discovery, canonical: Mapping[str, str], dest: Path) -> Path:
    """Copy found modules to their canonical paths under ``dest``, with their package's files.

    Other ``.py`` files from each module's folder (students' helpers such as ``fast_layers.py``)
    are copied into the same canonical folder without overwriting; every package folder gets an
    ``__init__.py``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for logical, src in discovery.found.items():
        target = dest / canonical[logical]
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_regular(src, target)
    for logical, src in discovery.found.items():
        folder = (dest / canonical[logical]).parent
        for sibling in sorted(regular_py(src.parent)):
            if not (folder / sibling.name).exists():
                copy_regular(sibling, folder / sibling.name)
    for rel in canonical.values():
        folder = (dest / rel).parent
        while folder != dest and dest in folder.parents:
            folder.mkdir(
                parents=True, exist_ok=True
            )  # the module may be missing: the package still imports
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent
    return dest


def overlay_given(spec: Spec, workspace: Path) -> None:
    """Replace the course's given modules with our trusted copies (edits cannot change grades)."""
    for rel, module in spec.given_modules.items():
        dest = workspace / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REFERENCE_DIR / GIVEN_SOURCES[module], dest)


def add_stand_ins(spec: Spec, workspace: Path) -> dict[str, str]:
    """Write the spec's stand-ins for course files the submission lacks; returns path -> kind."""
    added: dict[str, str] = {}
    for rel, kind in spec.stand_ins.items():
        dest = workspace / rel
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder = dest.parent
        while folder != workspace and workspace in folder.parents:  # a package, as the starter's
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent
        if kind == "empty":
            dest.write_text(
                f'"""Empty stand-in for {rel} (not graded here; imported by graded code)."""\n'
            )
        else:
            shutil.copyfile(STAND_IN_DIR / f"{kind}.py", dest)
        added[rel] = kind
    return added


def stage_runtime(dest: Path) -> Path:
    """Build the directory the child imports from: our child package and the given modules.

    Only ``grader/child`` (as ``nngrader_child``) and the non-solution reference modules (as
    ``nngrader_given``) are copied, so the reference's answers never enter the child.
    """
    shutil.copytree(
        CHILD_PACKAGE, dest / "nngrader_child", ignore=shutil.ignore_patterns("__pycache__")
    )
    given = dest / "nngrader_given"
    given.mkdir()
    (given / "__init__.py").write_text('"""Trusted given modules (non-solution)."""\n')
    for module, filename in GIVEN_SOURCES.items():
        shutil.copyfile(REFERENCE_DIR / filename, given / f"{module}.py")
    return dest
