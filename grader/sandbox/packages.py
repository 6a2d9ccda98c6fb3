"""The Python packages a child may import: numpy always, and what the course's spec declares.

A spec's ``[runtime] packages`` names distributions its given and student code import besides
numpy (UCLA's ``nndl/__init__.py`` imports ``matplotlib.pyplot``). ``ChildPackages`` finds their
folders and their requirements' (``grader.sandbox.paths.package_paths``) once per sandbox: bwrap
binds each read-only at its own path into the masked site folders, and process mode puts links to
each in a staged folder; either way ``pythonpath`` is all the child's ``sys.path`` gets of them.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from grader.errors import SandboxUnavailable
from grader.sandbox.paths import numpy_dirs, package_paths

__all__ = ["ChildPackages"]


class ChildPackages:
    """The host paths of the packages one sandbox's child may import."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        """Find ``names`` (and numpy) and everything they require.

        Raises:
            SandboxUnavailable: A declared package is not installed on this machine (a setup
                error of the grading machine, not the student's: the message names it).
        """
        # numpy by where it imports from (a venv may make it importable without metadata); the
        # declared packages, and what they require, by their installed metadata.
        try:
            found = package_paths(names) if names else []
        except importlib.metadata.PackageNotFoundError as missing:
            raise SandboxUnavailable(
                f"the course's runtime needs the Python package {missing.name!r}, which is not "
                "installed here: install nngrader with its courses extra "
                "(pip install 'nngrader[courses]') or the package itself"
            ) from None
        first = numpy_dirs()  # first: what every child imports
        self.paths: tuple[Path, ...] = (*first, *(p for p in found if p not in first))
        self._linked: Path | None = None

    def pythonpath(self, isolation: str) -> str:
        """The child's PYTHONPATH: in bwrap the site folders that hold the packages (masked down
        to them), in process mode a staged folder of links to them and nothing else."""
        if isolation == "bwrap":
            return os.pathsep.join(dict.fromkeys(str(p.parent) for p in self.paths))
        return str(self._link())

    def _link(self) -> Path:
        if self._linked is None:
            self._linked = Path(tempfile.mkdtemp(prefix="nngrader-pylib-"))
            self._linked.chmod(0o755)  # the sandbox uid must read it; nobody but us can write it
            for source in self.paths:
                (self._linked / source.name).symlink_to(source, target_is_directory=source.is_dir())
        return self._linked

    def close(self) -> None:
        """Remove the staged folder of links (idempotent)."""
        if self._linked is not None:
            shutil.rmtree(self._linked, ignore_errors=True)
            self._linked = None
