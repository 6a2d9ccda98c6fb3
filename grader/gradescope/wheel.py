"""The nngrader wheel the Gradescope zip carries: built from this source tree, checked whole.

There is no public nngrader release Gradescope could install, so ``setup.sh`` installs a wheel
built here. It is built with pip (``pip wheel``; ``python -m build`` is often not installed) in a
copy of the tree holding only what the build reads (``BUILT_FROM``): pip builds a local folder in
place, and the checkout, shared with whoever is editing it, must not gain ``build/`` or an
``egg-info`` folder; nor may a stray ``__pycache__`` reach the wheel. It is built without build
isolation first (offline, with the setuptools installed here), then with it (pip fetches
setuptools from the package index) when the first way fails, e.g. for want of ``wheel``.

A wheel that lacks a data file (a course spec, a report template, a schema, a stand-in: anything
``[tool.setuptools.package-data]`` in pyproject.toml forgot) would fail on Gradescope only, one
submission at a time, so ``check_wheel`` compares it with the packages this grader runs from:
every file of theirs must be in it (of the copy it was built from: the checkout may change
meanwhile).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePath

import assignments
import grader
import reference
from grader import __version__
from grader.errors import GraderError

__all__ = [
    "BUILT_FROM",
    "PACKAGES",
    "build_wheel",
    "check_wheel",
    "package_files",
    "pip_wheel",
    "source_tree",
]

PACKAGES = (grader, reference, assignments)
"""The top-level packages the wheel holds (pyproject's ``packages.find``)."""
BUILT_FROM = ("pyproject.toml", "README.md", *(p.__name__ for p in PACKAGES))
"""What the build reads from the source tree: the project file, the readme it names, the
packages."""
_SKIPPED = ("__pycache__", "*.pyc", "*.pyo", "*.egg-info")
_PIP_SECONDS = 600


def _package_dir(package: object) -> Path:
    return Path(str(getattr(package, "__file__", ""))).resolve().parent


def source_tree() -> Path:
    """The source checkout this grader runs from.

    Raises:
        GraderError: this grader was installed from a wheel, so there is nothing to build from.
    """
    root = _package_dir(grader).parent
    project = root / "pyproject.toml"
    if not project.is_file() or 'name = "nngrader"' not in project.read_text(encoding="utf-8"):
        raise GraderError(
            f"nngrader runs from {_package_dir(grader)}, not from a source checkout, so there is "
            "no tree to build its wheel from: run it from a checkout (pip install -e .), or pass "
            "--wheel FILE"
        )
    return root


def package_files(root: Path | None = None) -> set[str]:
    """Every file of the packages in the folder ``root`` (default: where this grader's packages
    are), as wheel paths (``grader/report/schemas/results.schema.json``), bytecode, caches and
    hidden files left out."""
    root = _package_dir(grader).parent if root is None else root
    found: set[str] = set()
    for package in PACKAGES:
        for path in (root / package.__name__).rglob("*"):
            rel = path.relative_to(root)
            skipped = any(PurePath(part).match(p) for part in rel.parts for p in _SKIPPED)
            # Hidden files (an editor's swap file) are no package's: setuptools leaves them out.
            if path.is_file() and not skipped and not any(p.startswith(".") for p in rel.parts):
                found.add(rel.as_posix())
    return found


def build_wheel(dest: Path, *, source: Path | None = None) -> Path:
    """Build the nngrader wheel into ``dest`` from ``source`` (default ``source_tree()``).

    Returns:
        The wheel, checked by ``check_wheel``.

    Raises:
        GraderError: there is no source tree, pip failed both ways (its last lines are in the
            message), or the wheel is not whole.
    """
    source = source_tree() if source is None else source
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nngrader-wheel-") as tmp:
        copy = Path(tmp) / "src"
        try:
            copy.mkdir()
            for name in BUILT_FROM:
                if (source / name).is_dir():
                    skip = shutil.ignore_patterns(*_SKIPPED)
                    shutil.copytree(source / name, copy / name, ignore=skip)
                else:
                    shutil.copy2(source / name, copy / name)
        except OSError as exc:
            raise GraderError(f"cannot copy the source tree {source} to build from: {exc}") from exc
        built = pip_wheel(copy, Path(tmp) / "dist", "nngrader")
        wheel = dest / built.name
        shutil.copyfile(built, wheel)
        check_wheel(wheel, expected=package_files(copy))  # what it was built from
    return wheel


def pip_wheel(tree: Path, out: Path, name: str) -> Path:
    """Build the wheel of the project in ``tree`` (a folder of our own) into ``out`` with pip:
    without build isolation first (offline), then with it.

    Returns:
        The wheel ``out/<name>-*.whl``.

    Raises:
        GraderError: pip failed both ways (its last lines are in the message).
    """
    failures: list[str] = []
    for isolation in (["--no-build-isolation"], []):
        how = f"pip wheel {' '.join(isolation) or 'with build isolation'}"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation]
        command += ["--disable-pip-version-check", "-w", str(out), str(tree)]
        try:
            # Our own interpreter's pip on a fixed command line; the folder is our own.
            done = subprocess.run(  # noqa: S603
                command, capture_output=True, text=True, timeout=_PIP_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"{how}: {exc}")
            continue
        wheels = sorted(out.glob(f"{name.replace('-', '_')}-*.whl"))
        if done.returncode == 0 and wheels:
            return wheels[0]
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        failures.append(f"{how}:\n{tail}")
    raise GraderError(f"cannot build the {name} wheel:\n" + "\n".join(failures))


def check_wheel(wheel: Path, *, expected: set[str] | None = None) -> None:
    """Check that ``wheel`` is this nngrader's, whole: this version, every file of ``expected``
    (default: ``package_files()`` of the packages this grader runs from), and no bytecode or
    cache.

    Raises:
        GraderError: naming what is wrong (at most a few of the missing files).
    """
    if not wheel.name.startswith(f"nngrader-{__version__}-") or wheel.suffix != ".whl":
        raise GraderError(f"{wheel}: not a wheel of nngrader {__version__}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise GraderError(f"{wheel}: cannot read it: {exc}") from exc
    missing = sorted((package_files() if expected is None else expected) - names)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise GraderError(
            f"{wheel.name} lacks {shown}: is it in pyproject.toml's [tool.setuptools.package-data]?"
        )
    stray = sorted(n for n in names if "__pycache__/" in n or n.endswith((".pyc", ".pyo")))
    if stray:
        raise GraderError(f"{wheel.name} holds bytecode, e.g. {stray[0]}")
