"""Staging: the folders a submission's child sees, built from the discovered files.

* the **workspace**: the student's modules at their canonical course paths; the course's files
  that are given and not graded replaced by the grader's own (trusted copies of the given
  modules, stand-ins for the rest: edits to them cannot change a grade, and a given file that
  does not import here, such as the 2016 starter's Python 2 ``fast_layers.py``, cannot fail the
  student's graded code); stand-ins for graded-code imports the submission lacks;
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

__all__ = ["GIVEN_NAMES", "GIVEN_SOURCES", "Staged", "stage", "stage_layout", "stage_runtime"]

CHILD_PACKAGE = Path(__file__).resolve().parent.parent / "child"
REFERENCE_DIR = Path(__file__).resolve().parent.parent.parent / "reference"
GIVEN_SOURCES = {"solver": "solver.py", "gradient_check": "gradient_check.py", "data": "data.py"}
"""Given module -> its file in ``reference/``: never a solution module."""
STAND_IN_DIR = Path(__file__).with_name("stand_ins")
GIVEN_NAMES = frozenset(
    {"fast_layers.py", "im2col.py", "vis_utils.py", "setup.py", "image_utils.py"}
)
"""Names of course files every starter gives beside the graded modules and no graded code runs
(the CNN part's helpers, plotting, the Cython build script; variants.md §3b.1): wherever a
submission's copy lands in the workspace, an empty stand-in replaces it, as the spec's
``empty`` stand-ins do. The 2016 copies are Python 2 and the 2019 ``fast_layers.py`` imports
torch (variants.md §11 items 4 and 6), so the student's own copy may not import here."""


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
    layout: Mapping[str, str]
    """Logical module -> its course path (the spec's graded modules)."""
    found: Mapping[str, Path]
    """Logical module -> the submission's file chosen for it."""
    alternatives: Mapping[str, tuple[Path, ...]]
    """Logical module -> the other files of the same name that were not chosen."""
    not_found: tuple[str, ...]
    """Every logical module the submission lacks (stand-ins included)."""
    stand_ins: Mapping[str, str]
    """Course path -> stand-in kind written for it (``empty``, ``layer_utils``)."""
    given: tuple[str, ...]
    """Course paths of every given file the grader wrote: trusted copies and the stand-ins of
    files that are not graded. A failure inside one of them is never the student's."""
    replaced: tuple[str, ...]
    """Course paths among ``given`` where the submission had a copy of its own (not used)."""

    @property
    def missing(self) -> tuple[str, ...]:
        """Logical modules the submission lacks and no stand-in replaced."""
        return tuple(m for m in self.not_found if self.layout[m] not in self.stand_ins)


def stage(root: Path, spec: Spec, workdir: Path) -> Staged:
    """Lay out the submission under ``root`` for ``spec`` in ``workdir`` (created)."""
    found = find_files(root, spec.student_modules)
    # Private: a sandbox uid (as root) gets search permission on it, never a listing, and only
    # the subfolders meant for it can be read (``grader.sandbox.access``).
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    workspace = stage_layout(found, spec.student_modules, workdir / "src")
    submitted = _python_paths(workspace)
    trusted = overlay_given(spec, workspace)
    stood_in = add_stand_ins(spec, workspace)
    graded = set(spec.student_modules.values())
    given = sorted({*trusted, *(rel for rel in stood_in if rel not in graded)})
    runtime = stage_runtime(workdir / "runtime")
    scratch = workdir / "scratch"
    scratch.mkdir()
    output = workdir / "output.txt"
    output.touch(mode=0o600)  # the child writes it through an inherited descriptor
    return Staged(
        workspace=workspace,
        runtime=runtime,
        scratch=scratch,
        output=output,
        layout=dict(spec.student_modules),
        found=found.found,
        alternatives={k: tuple(v) for k, v in found.ambiguous.items()},
        not_found=tuple(found.missing),
        stand_ins=stood_in,
        given=tuple(given),
        replaced=tuple(rel for rel in given if rel in submitted),
    )


def stage_layout(discovery: Discovery, canonical: Mapping[str, str], dest: Path) -> Path:
    """Copy found modules to their canonical paths under ``dest``, with their package's files.

    Other ``.py`` files from each module's folder (students' helpers, the course's given files)
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


def overlay_given(spec: Spec, workspace: Path) -> list[str]:
    """Replace the course's given modules with our trusted copies (edits cannot change grades);
    returns the course paths written."""
    for rel, module in spec.given_modules.items():
        dest = workspace / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REFERENCE_DIR / GIVEN_SOURCES[module], dest)
    return list(spec.given_modules)


def stand_ins_for(spec: Spec, workspace: Path) -> dict[str, str]:
    """Course path -> stand-in kind for every file ``add_stand_ins`` writes.

    A stand-in for a graded module (the starter's ``layer_utils``) fills in only when the
    submission lacks the file: the student's own is graded. Every other stand-in replaces the
    submission's copy too, as does an empty stand-in for each file named in ``GIVEN_NAMES``
    (except where the spec grades or gives a file of that path).
    """
    graded = set(spec.student_modules.values())
    chosen = {
        rel: kind
        for rel, kind in spec.stand_ins.items()
        if rel not in graded or not (workspace / rel).exists()
    }
    for rel in sorted(_python_paths(workspace)):
        if Path(rel).name in GIVEN_NAMES and rel not in graded and rel not in spec.given_modules:
            chosen.setdefault(rel, "empty")
    return chosen


def add_stand_ins(spec: Spec, workspace: Path) -> dict[str, str]:
    """Write the stand-ins ``stand_ins_for`` chooses; returns course path -> kind."""
    added = stand_ins_for(spec, workspace)
    for rel, kind in added.items():
        dest = workspace / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder = dest.parent
        while folder != workspace and workspace in folder.parents:  # a package, as the starter's
            (folder / "__init__.py").touch(exist_ok=True)
            folder = folder.parent
        dest.unlink(missing_ok=True)  # the submission's copy, never written through
        shutil.copyfile(STAND_IN_DIR / f"{kind}.py", dest)
    return added


def _python_paths(workspace: Path) -> set[str]:
    """Course paths (``cs231n/fast_layers.py``) of the ``.py`` files now in ``workspace``."""
    return {p.relative_to(workspace).as_posix() for p in workspace.rglob("*.py") if p.is_file()}


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
