"""Which host paths the sandbox exposes: system dirs, the Python runtime, packages, site folders.

bwrap binds the system dirs and the Python runtime by exact path; every site folder under them is
then masked (it holds every installed package, an installed nngrader's solutions among them), and
only numpy's own folders, and those of the packages a course's runtime declares
(``package_paths``), are bound back.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import site
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

__all__ = [
    "SITE_DIR_NAMES",
    "SITE_GLOBS",
    "SYSTEM_DIRS",
    "numpy_dirs",
    "numpy_path",
    "package_paths",
    "runtime_paths",
    "site_dirs",
]

SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/fonts",  # fontconfig: a course's matplotlib finds the system fonts without complaint
)
SITE_DIR_NAMES = ("site-packages", "dist-packages")
SITE_GLOBS = (
    "lib*/python*/{name}",
    "local/lib*/python*/{name}",
    "python*/{name}",
    "lib*/{name}",
    "{name}",
)


def runtime_paths() -> list[Path]:
    """The Python installation (exact paths); numpy is bound on its own (``numpy_dirs``).

    Returns:
        The existing ones of the base prefix, the (venv) prefix and the interpreter's folder.
    """
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(os.path.realpath(sys.executable)).parent}
    return sorted(p for p in paths if p.exists())


def numpy_dirs() -> list[Path]:
    """numpy's package folder and, when the wheel vendors its libraries, ``numpy.libs`` beside it.

    That is everything ``import numpy`` needs from its site folder (checked by the sandbox tests,
    which import numpy inside the sandbox).

    Returns:
        Real (symlink-free) paths, the package folder first.
    """
    import numpy

    package = Path(numpy.__file__).resolve().parent
    return [p for p in (package, package.with_name("numpy.libs")) if p.is_dir()]


def package_paths(names: Sequence[str]) -> list[Path]:
    """Everything importing the distributions ``names`` needs from their site folders: the
    top-level packages, modules and vendored-library folders of each, and of every distribution
    they require (matplotlib needs pillow, kiwisolver, ...), found through the installed metadata.

    Args:
        names: Distribution names as a spec's runtime declares them (``matplotlib``).

    Returns:
        Real host paths (folders and single-file modules), sorted.

    Raises:
        importlib.metadata.PackageNotFoundError: One of ``names`` (or a requirement) is not
            installed; its message is the missing name.
    """
    return list(_package_paths(tuple(sorted(set(names)))))


@cache
def _package_paths(names: tuple[str, ...]) -> tuple[Path, ...]:
    paths: set[Path] = set()
    for dist in _with_requirements(names):
        for file in dist.files or ():
            top = file.parts[0]
            # Scripts (``../../bin``) and the shared bytecode cache are not the package.
            if top in ("..", "__pycache__"):
                continue
            path = Path(str(dist.locate_file(top))).resolve()
            if path.exists():
                paths.add(path)
    return tuple(sorted(paths))


def _with_requirements(names: Sequence[str]) -> list[importlib.metadata.Distribution]:
    """The distributions ``names`` and, transitively, their unconditional requirements (those
    with an environment marker, extras and platform-specific backports, are followed only when
    installed)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [(name, True) for name in names]
    while todo:
        name, required = todo.pop()
        key = _canonical(name)
        if key in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if required:
                raise
            continue
        found[key] = dist
        for requirement in dist.requires or ():
            spec, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue
            todo.append((re.split(r"[\s\[<>=!~(]", spec.strip(), maxsplit=1)[0], not marker))
    return list(found.values())


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 normalizes it (``Python_dateutil``: ``python-dateutil``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def numpy_path() -> list[str]:
    """The host folder numpy is installed in (for launchers without a sandbox, e.g. in tests).

    The sandbox itself never puts this on PYTHONPATH: it holds every other installed package too.

    Returns:
        A one-element list, ready for ``os.pathsep.join``.
    """
    return [str(numpy_dirs()[0].parent)]


def site_dirs(roots: Sequence[Path]) -> list[Path]:
    """Every site-packages/dist-packages folder under ``roots``, named as the sandbox shows it.

    bwrap mounts each root on a directory of its own, so the same folder reached through two
    roots (``/lib`` -> ``/usr/lib``) is two mounts in the sandbox and is listed under each. A
    symlink *inside* a root stays a symlink there, so the folders it leads to are listed by their
    symlink-free names only (a venv's ``lib64 -> lib`` is not a second site folder). numpy's own
    site folder is always included. Cached: globbing the system folders takes ~20 ms, and the
    result is needed at every spawn.

    Args:
        roots: The folders bound into the sandbox at their own path.

    Returns:
        The folders to mask, sorted.
    """
    return list(_site_dirs(tuple(roots)))


@cache
def _site_dirs(roots: tuple[Path, ...]) -> tuple[Path, ...]:
    folders: set[Path] = set()  # real host paths
    for root in roots:
        for pattern in SITE_GLOBS:
            for name in SITE_DIR_NAMES:
                found = root.glob(pattern.format(name=name))
                folders.update(p.resolve() for p in found if p.is_dir())
    known = [*sys.path, *site.getsitepackages(), site.getusersitepackages()]
    for entry in known:
        path = Path(entry)
        if path.name in SITE_DIR_NAMES and path.is_dir():
            folders.add(path.resolve())
    masked: set[Path] = {numpy_dirs()[0].parent}
    for folder in folders:
        masked.update(_seen_inside(folder, roots))
    return tuple(sorted(masked))


def _seen_inside(folder: Path, roots: Sequence[Path]) -> set[Path]:
    """Where the sandbox shows the real host folder ``folder``: under each root that holds it.

    Inside a root the sandbox shows the root's real target, so ``folder`` appears at the root's
    name plus its path below that target. Any path reaching ``folder`` through symlinks resolves
    to one of these (or, when it leaves every root, to nothing the sandbox shows).
    """
    seen = set()
    for root in roots:
        target = root.resolve()
        if folder.is_relative_to(target):
            seen.add(root / folder.relative_to(target))
    return seen
