"""``collect``: every input gives submissions, errors name the rule, nothing in an input runs."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from assignments import spec_dir
from grader.intake import ExtractLimits, collect, zip_bytes
from grader.spec import load_spec
from tests.grader.intake.helpers import LAYERS, bytes_under, export, inner, tree, write, write_zip


def test_refusals_name_the_member_and_rule(tmp_path: Path) -> None:
    device = zipfile.ZipInfo("cs231n/dev")
    device.external_attr = (stat.S_IFCHR | 0o666) << 16
    cases: dict[str, tuple[list[tuple[zipfile.ZipInfo | str, bytes]], str]] = {
        "device.zip": ([(device, b"")], "not a regular file"),
        "many.zip": ([(f"f{i}.py", b"") for i in range(20)], "entries (limit 10)"),
        "big.zip": ([("cs231n/layers.py", b"#" * 4096)], "larger than"),
    }
    for name, (members, expected) in cases.items():
        path = write_zip(tmp_path / name, members)
        limits = ExtractLimits(members=10, file_bytes=1024)
        (sub,) = collect([path], tmp_path / f"w-{name}", limits=limits)
        assert sub.root is None and expected in (sub.error or ""), (name, sub.error)


def test_empty_and_missing_inputs_are_errors_not_crashes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    empty.write_bytes(zip_bytes({"README.txt": b"hi"}))
    subs = collect([empty, tmp_path / "nope"], tmp_path / "work")
    assert "no Python files" in subs[0].error
    assert "not a folder or a .zip" in subs[1].error


def test_a_hostile_outer_archive_is_one_batch_error(tmp_path: Path, keep_partial: None) -> None:
    crowded = export(
        tmp_path / "crowded.zip", {f"s{i}/cs231n/layers.py": LAYERS for i in range(30)}
    )
    (sub,) = collect([crowded], tmp_path / "w1", limits=ExtractLimits(intake_members=20))
    assert sub.name == "crowded" and sub.root is None and "30 entries (limit 20)" in sub.error
    heavy = export(
        tmp_path / "heavy.zip", {f"s{i}.zip": inner(pad=os.urandom(3000)) for i in range(4)}
    )
    (sub,) = collect([heavy], tmp_path / "w2", limits=ExtractLimits(intake_bytes=8000))
    assert sub.name == "heavy" and "the limit for one input" in sub.error
    assert bytes_under(tmp_path / "w2") <= 8000


def test_the_current_folder_is_named_after_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write(tmp_path / "bob.b", {"layers.py": "x = 1\n"}))
    (sub,) = collect([Path(".")], tmp_path / "work")
    assert sub.name == "bob.b" and sub.error is None


# ---- git checkouts: .git is data, never run ------------------------------------------------------


def _git_dir(folder: Path, canary: Path) -> None:
    """A hand-made git directory whose hooks and fsmonitor would write ``canary`` if git ran."""
    script = f"#!/bin/sh\necho ran > {canary}\n"
    config = (
        f"[core]\n\tbare = false\n\tfsmonitor = {folder / 'hooks/fsmonitor'}\n"
        f"\thooksPath = {folder / 'hooks'}\n"
    )
    write(
        folder,
        {
            "HEAD": "ref: refs/heads/main\n",
            "objects/info/packs": "",
            "refs/heads/main": "0" * 40 + "\n",
            "config": config,
            "layers.py": "DECOY = 1\n",
            "cs231n/layers.py": "DECOY = 2\n",
        },
    )
    for hook in ("post-checkout", "pre-commit", "post-merge", "fsmonitor", "post-update"):
        path = folder / "hooks" / hook
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script)
        path.chmod(0o755)


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Intake and discovery must not start any program (git included)."""
    import subprocess

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"intake tried to run a program: {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    for name in (
        "system",
        "posix_spawn",
        "posix_spawnp",
        "fork",
        "execv",
        "execve",
        "execvp",
        "popen",
    ):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse)


def test_git_checkout_is_a_folder_and_nothing_in_it_runs(
    tmp_path: Path, no_processes: None
) -> None:
    from grader.workspace.detect import detect
    from grader.workspace.discover import find_files
    from grader.workspace.stage import stage_layout

    canary = tmp_path / "ran.txt"
    src = write(tmp_path / "repo", {"cs231n/layers.py": "x = 1\n"})
    _git_dir(src / ".git", canary)
    (src / "cs231n/.git").write_text(f"gitdir: {src / '.git'}\n")  # a worktree/submodule pointer
    (sub,) = collect([src], tmp_path / "work")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]
    found = find_files(sub.root, {"layers": "cs231n/layers.py"})
    assert found.found["layers"] == sub.root / "cs231n/layers.py" and not found.ambiguous
    stage_layout(found, {"layers": "cs231n/layers.py"}, tmp_path / "staged")
    detect(sub.root, [load_spec(p) for p in sorted(spec_dir().glob("*.toml"))])
    assert not canary.exists()


def test_a_zipped_checkout_and_a_bare_repository_run_nothing(
    tmp_path: Path, no_processes: None
) -> None:
    canary = tmp_path / "ran.txt"
    bare = tmp_path / "bare.git"
    _git_dir(bare, canary)
    (sub,) = collect([bare], tmp_path / "w1")
    assert (
        sub.name == "bare.git" and sub.error is None
    )  # a bare repo is just files; its .py are data
    assert not any(os.access(p, os.X_OK) for p in sub.root.rglob("*") if p.is_file())
    repo = write(tmp_path / "repo", {"cs231n/layers.py": "x = 1\n"})
    _git_dir(repo / ".git", canary)
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (p.relative_to(repo).as_posix(), p.read_bytes())
        for p in sorted(repo.rglob("*"))
        if p.is_file()
    ]
    archive = write_zip(tmp_path / "repo.zip", members)
    (sub,) = collect([archive], tmp_path / "w2")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]
    assert not canary.exists()
