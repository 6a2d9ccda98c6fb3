"""What the sandbox binds of a course's declared runtime (``paths.package_paths``)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.paths import numpy_dirs, package_paths

matplotlib = pytest.importorskip("matplotlib", reason="the courses extra is not installed")


def names(paths: list[Path]) -> set[str]:
    return {p.name for p in paths}


def test_a_package_comes_with_everything_it_requires() -> None:
    """matplotlib's own folders, and those of its requirements (pillow, kiwisolver, dateutil,
    numpy; a single-file module such as six where the installed dateutil still needs it), all
    real paths that exist."""
    paths = package_paths(["matplotlib"])
    assert {"matplotlib", "mpl_toolkits", "PIL", "kiwisolver", "dateutil"} <= names(paths)
    requires_six = any(
        r.startswith("six") for r in importlib.metadata.requires("python-dateutil") or ()
    )
    assert ("six.py" in names(paths)) == requires_six
    assert set(numpy_dirs()) <= set(paths)
    assert all(p.exists() and p == p.resolve() for p in paths)


def test_nothing_beyond_the_requirements_is_bound() -> None:
    """Packages nobody declared (pytest, the grader's own tools) stay masked."""
    bound = names(package_paths(["matplotlib"]))
    assert not {"pytest", "_pytest", "mypy", "ruff", "grader", "reference"} & bound
    assert names(package_paths(["numpy"])) <= {
        "numpy",
        "numpy.libs",
        f"numpy-{np.__version__}.dist-info",
    }


def test_a_package_that_is_not_installed_is_named() -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError, match="no-such-course-package"):
        package_paths(["no-such-course-package"])
