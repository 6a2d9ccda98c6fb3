"""Finding a student's modules wherever they sit, and rebuilding the course layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assignments import spec_dir
from grader.spec import load_spec
from grader.workspace.detect import detect
from grader.workspace.discover import find_files, package_dirs
from grader.workspace.stage import stage_layout

LAYOUT = {"layers": "cs231n/layers.py", "fc_net": "cs231n/classifiers/fc_net.py"}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_discovery_prefers_the_canonical_path_and_reports_alternatives(tmp_path: Path) -> None:
    root = write(
        tmp_path / "s",
        {
            "old/fc_net.py": "old = 1\n",
            "x/cs231n/classifiers/fc_net.py": "new = 1\n",
            "x/cs231n/layers.py": "l = 1\n",
            "x/cs231n/fast_layers.py": "f = 1\n",
        },
    )
    found = find_files(root, {**LAYOUT, "optim": "cs231n/optim.py"})
    assert found.found["fc_net"] == root / "x/cs231n/classifiers/fc_net.py"
    assert found.ambiguous["fc_net"] == [root / "old/fc_net.py"]
    assert found.missing == ["optim"]
    staged = stage_layout(found, {**LAYOUT, "optim": "cs231n/optim.py"}, tmp_path / "staged")
    assert (staged / "cs231n/classifiers/__init__.py").exists() and (
        staged / "cs231n/fast_layers.py"
    ).exists()
    assert (staged / "cs231n/classifiers/fc_net.py").read_text() == "new = 1\n"


@pytest.mark.parametrize("flat", [True, False])
def test_flat_uploads_are_rebuilt_into_the_layout(tmp_path: Path, flat: bool) -> None:
    files = (
        {"layers.py": "l = 1\n", "fc_net.py": "f = 1\n"}
        if flat
        else {"a/layers.py": "l = 1\n", "b/fc_net.py": "f = 1\n"}
    )
    root = write(tmp_path / "s", files)
    staged = stage_layout(find_files(root, LAYOUT), LAYOUT, tmp_path / "staged")
    assert (staged / "cs231n/layers.py").exists() and (
        staged / "cs231n/classifiers/fc_net.py"
    ).exists()


def test_links_and_special_files_are_never_discovered(tmp_path: Path) -> None:
    """A root that did not come through intake still cannot lead discovery out of it."""
    outside = write(
        tmp_path / "reference",
        {
            "layers.py": "REFERENCE = 1\n",
            "pkg/classifiers/fc_net.py": "REF = 2\n",
            "optim.py": "REF = 3\n",
        },
    )
    root = write(tmp_path / "s", {"cs231n/layer_utils.py": "u = 1\n"})
    (root / "cs231n/layers.py").symlink_to(outside / "layers.py")
    (root / "cs231n/classifiers").symlink_to(outside / "pkg/classifiers", target_is_directory=True)
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "cs231n/optim.py")
    wanted = {**LAYOUT, "optim": "cs231n/optim.py", "layer_utils": "cs231n/layer_utils.py"}
    found = find_files(root, wanted)
    assert sorted(found.missing) == ["fc_net", "layers", "optim"] and not found.ambiguous
    assert package_dirs(root) == [root / "cs231n"]
    staged = stage_layout(
        found, wanted, tmp_path / "staged"
    )  # siblings: a link and a fifo; must not hang
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*.py")) == [
        "cs231n/__init__.py",
        "cs231n/classifiers/__init__.py",
        "cs231n/layer_utils.py",
    ]
    assert not any(p.is_symlink() for p in staged.rglob("*"))


@pytest.mark.parametrize(
    "skipped", [".git", "__pycache__", ".venv/lib", "node_modules/x", ".ipynb_checkpoints"]
)
def test_skipped_folders_hold_no_candidates(tmp_path: Path, skipped: str) -> None:
    root = write(
        tmp_path / "s",
        {
            "cs231n/layers.py": "real = 1\n",
            f"{skipped}/cs231n/layers.py": "decoy = 1\n",
            f"{skipped}/fc_net.py": "decoy = 2\n",
        },
    )
    found = find_files(root, LAYOUT)
    assert found.found == {"layers": root / "cs231n/layers.py"} and not found.ambiguous
    assert found.missing == ["fc_net"]


def test_course_is_not_detected_from_files_inside_git(tmp_path: Path) -> None:
    specs = [load_spec(p) for p in sorted(spec_dir().glob("*.toml"))]
    example = spec_dir().parent / "examples" / "cs231n-2021" / "correct"
    root = tmp_path / "s"
    shutil.copytree(example, root / ".git")
    assert detect(root, specs).spec is None
    shutil.copytree(example, root, dirs_exist_ok=True)
    found = detect(root, specs).spec
    assert found is not None and found.id == "cs231n-2021"
