"""Taking submissions in: folders, zips, LMS exports, budgets, names, symlinks and refusals."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from assignments import spec_dir
from grader.intake import ExtractLimits, bundled_package_names, collect, package_names, zip_bytes
from grader.spec import load_spec

LAYERS = b"x = 1\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def write_zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]],
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def tree(root: Path) -> list[str]:
    """Relative paths of everything under ``root`` (links included, as themselves)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_symlink() or not p.is_dir())


def bytes_under(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def by_name(subs: list) -> dict:
    return {s.name: s for s in subs}


@pytest.fixture
def keep_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep what a refused extraction wrote, so tests can measure it (intake deletes it)."""
    import grader.intake

    monkeypatch.setattr(grader.intake.shutil, "rmtree", lambda *args, **kwargs: None)


def test_folder_skips_caches_vcs_and_links(tmp_path: Path) -> None:
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n", "cs231n/__pycache__/layers.cpython-311.pyc": "",
                                     ".git/config": "", "notes.pyc": ""})
    (src / "link.py").symlink_to("/etc/passwd")
    (sub,) = collect([src], tmp_path / "work")
    assert sub.name == "alice" and sub.error is None
    assert tree(sub.root) == ["cs231n/layers.py"]
    assert any("link.py" in note and "outside" in note for note in sub.notes)


def test_zip_and_lms_export_of_inner_zips(tmp_path: Path) -> None:
    inner = zip_bytes({"cs231n/layers.py": b"x = 1\n"})
    export = tmp_path / "canvas.zip"
    export.write_bytes(zip_bytes({"submissions/alice_1.zip": inner, "submissions/bob_2.zip": inner,
                                  "submissions/carol_3/cs231n/layers.py": b"x = 1\n"}))
    subs = collect([export], tmp_path / "work")
    assert [s.name for s in subs] == ["alice_1", "bob_2", "carol_3"]
    assert all(s.error is None and (s.root / "cs231n" / "layers.py").exists() for s in subs)


def test_single_submission_zip_with_a_package_is_not_split(tmp_path: Path) -> None:
    one = tmp_path / "dave.zip"
    one.write_bytes(zip_bytes({"cs231n/layers.py": b"x = 1\n", "nndl/fc_net.py": b"y = 2\n"}))
    (sub,) = collect([one], tmp_path / "work")
    assert sub.name == "dave" and (sub.root / "nndl" / "fc_net.py").exists()


def test_lms_folder_and_forcing(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"alice/cs231n/layers.py": "x = 1\n", "bob/cs231n/layers.py": "x = 2\n"})
    assert [s.name for s in collect([export], tmp_path / "w1")] == ["alice", "bob"]
    assert [s.name for s in collect([export], tmp_path / "w2", lms=False)] == ["export"]


def test_refusals_name_the_member_and_rule(tmp_path: Path) -> None:
    device = zipfile.ZipInfo("cs231n/dev")
    device.external_attr = (stat.S_IFCHR | 0o666) << 16
    cases = {
        "device.zip": ([(device, b"")], "not a regular file"),
        "many.zip": ([(f"f{i}.py", b"") for i in range(20)], "entries (limit 10)"),
        "big.zip": ([("cs231n/layers.py", b"#" * 4096)], "larger than"),
    }
    for name, (members, expected) in cases.items():
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for info, data in members:
                z.writestr(info, data)
        (sub,) = collect([path], tmp_path / f"w-{name}", limits=ExtractLimits(members=10, file_bytes=1024))
        assert sub.root is None and expected in (sub.error or ""), (name, sub.error)


def test_empty_and_missing_inputs_are_errors_not_crashes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.zip"
    empty.write_bytes(zip_bytes({"README.txt": b"hi"}))
    subs = collect([empty, tmp_path / "nope"], tmp_path / "work")
    assert "no Python files" in subs[0].error
    assert "not a folder or a .zip" in subs[1].error




# ---- zip protections, one test each ------------------------------------------------------------

@pytest.mark.parametrize("member, expected", [
    ("{abs}", "absolute path"),
    ("C:/escaped.py", "absolute path"),
    ("../escaped.py", "path escapes the submission folder"),
    ("cs231n/../../escaped.py", "path escapes the submission folder"),
    ("..\\escaped.py", "path escapes the submission folder"),
])
def test_zip_paths_leaving_the_folder_are_refused(tmp_path: Path, member: str, expected: str) -> None:
    member = member.format(abs=str(tmp_path / "escaped.py"))
    archive = write_zip(tmp_path / "slip.zip", [("cs231n/layers.py", LAYERS), (member, b"y = 2\n")])
    (sub,) = collect([archive], tmp_path / "a" / "b" / "work")
    assert sub.root is None and expected in sub.error and repr(member) in sub.error
    assert not [p for p in tmp_path.rglob("escaped.py")]


@pytest.mark.parametrize("mode, expected", [
    (stat.S_IFLNK | 0o777, "symbolic links are not allowed"),
    (stat.S_IFCHR | 0o666, "not a regular file"),
    (stat.S_IFBLK | 0o666, "not a regular file"),
    (stat.S_IFIFO | 0o666, "not a regular file"),
    (stat.S_IFSOCK | 0o666, "not a regular file"),
])
def test_zip_links_and_special_members_are_refused(tmp_path: Path, mode: int, expected: str) -> None:
    info = zipfile.ZipInfo("cs231n/layers.py")
    info.external_attr = mode << 16
    archive = write_zip(tmp_path / "odd.zip", [(info, b"/etc/passwd"), ("cs231n/optim.py", LAYERS)])
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.root is None and expected in sub.error and "cs231n/layers.py" in sub.error
    assert not any((tmp_path / "work").rglob("layers.py"))


def test_links_inside_skipped_folders_do_not_refuse_the_zip(tmp_path: Path) -> None:
    link = zipfile.ZipInfo(".venv/bin/python")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = write_zip(tmp_path / "venv.zip", [(link, b"/usr/bin/python3"), ("cs231n/layers.py", LAYERS)])
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]


@pytest.mark.parametrize("case", ["members", "file_bytes", "total_bytes", "ratio"])
def test_zip_size_and_count_limits(tmp_path: Path, case: str, keep_partial: None) -> None:
    """Each limit stops extraction with its own message, before more than the limit is written."""
    limits, members, expected, most = {
        "members": (ExtractLimits(members=10), [(f"f{i}.py", b"") for i in range(10)], "11 entries (limit 10)", 0),
        "file_bytes": (ExtractLimits(file_bytes=1024), [("cs231n/big.py", os.urandom(1025))], "larger than 1 KiB",
                       1024 + len(LAYERS)),
        "total_bytes": (ExtractLimits(total_bytes=4096), [(f"f{i}.py", os.urandom(1500)) for i in range(3)],
                        "expands to more than 4 KiB", 4096),
        "ratio": (ExtractLimits(), [("cs231n/data.py", bytes(2 * 1024**2))], "compression ratio above 200:1",
                  1024**2 + 2**16 + len(LAYERS)),
    }[case]
    archive = write_zip(tmp_path / f"{case}.zip", [("cs231n/layers.py", LAYERS), *members])
    (sub,) = collect([archive], tmp_path / "work", limits=limits)
    assert sub.root is None and expected in sub.error, sub.error
    assert bytes_under(tmp_path / "work") <= most


def _patch_central_directory(data: bytes, offset: int, value: bytes) -> bytes:
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + value + data[at + len(value):]


@pytest.mark.parametrize("patch, expected", [
    ((8, b"\x01\x00"), "encrypted"),  # general-purpose flag bit 0
    ((10, b"\x63\x00"), "compression method"),  # method 99 (AES), not supported
])
def test_unreadable_zips_are_errors_not_crashes(tmp_path: Path, patch: tuple[int, bytes], expected: str) -> None:
    archive = tmp_path / "odd.zip"
    archive.write_bytes(_patch_central_directory(zip_bytes({"cs231n/layers.py": LAYERS}), *patch))
    (sub,) = collect([archive], tmp_path / "work")
    assert sub.root is None and "zip file is broken or unsupported" in sub.error and expected in sub.error


# ---- one budget for an input and everything nested in it ---------------------------------------

def _export(path: Path, students: dict[str, bytes]) -> Path:
    """An LMS export: ``name.zip`` entries hold inner zips, other names are folder members."""
    return write_zip(path, [(f"submissions/{name}", data) for name, data in students.items()], zipfile.ZIP_STORED)


def _inner(**files: bytes) -> bytes:
    return zip_bytes({"cs231n/layers.py": LAYERS, **{f"cs231n/{k}.bin": v for k, v in files.items()}})


@pytest.mark.parametrize("hostile", ["aaron.zip", "zed.zip"])
def test_an_oversized_inner_zip_fails_only_its_student(tmp_path: Path, hostile: str, keep_partial: None) -> None:
    limits = ExtractLimits(total_bytes=1024**2, intake_bytes=64 * 1024)
    export = _export(tmp_path / "canvas.zip", {"bob.zip": _inner(), "carol.zip": _inner(), hostile: _inner(big=bytes(80_000))})
    subs = by_name(collect([export], tmp_path / "work", limits=limits))
    bad = subs.pop(hostile.removesuffix(".zip"))
    assert bad.root is None
    assert "expands to more than" in bad.error and "share of the 64 KiB allowed for one input of 3 submissions" in bad.error
    assert sorted(subs) == ["bob", "carol"] and all(s.error is None for s in subs.values())
    assert all((s.root / "cs231n/layers.py").read_bytes() == LAYERS for s in subs.values())
    assert bytes_under(tmp_path / "work") <= limits.intake_bytes


def test_inner_zips_each_within_limits_cannot_exceed_the_input_budget(tmp_path: Path, keep_partial: None) -> None:
    fat = _inner(data=os.urandom(40 * 1024))
    students = {"a_small.zip": _inner(), "b_small.zip": _inner(), **{f"fat{i}.zip": fat for i in range(4)}}
    export = _export(tmp_path / "export.zip", students)
    per_submission = ExtractLimits(total_bytes=48 * 1024)
    assert all(s.error is None for s in collect([export], tmp_path / "w1", limits=per_submission))
    budget = ExtractLimits(total_bytes=48 * 1024, intake_bytes=240 * 1024)
    subs = by_name(collect([export], tmp_path / "w2", limits=budget))
    assert subs["a_small"].error is None and subs["b_small"].error is None
    assert all("share of the 240 KiB" in subs[f"fat{i}"].error for i in range(4))
    assert bytes_under(tmp_path / "w2") <= budget.intake_bytes


def test_a_folder_student_inside_the_export_gets_a_share_too(tmp_path: Path) -> None:
    export = write_zip(tmp_path / "export.zip", [
        ("alice/cs231n/layers.py", LAYERS), ("bob/cs231n/layers.py", LAYERS),
        ("carol/cs231n/layers.py", LAYERS), ("carol/cs231n/data.bin", os.urandom(50_000))])
    subs = by_name(collect([export], tmp_path / "work", limits=ExtractLimits(intake_bytes=32 * 1024)))
    assert subs["alice"].error is None and subs["bob"].error is None
    assert subs["carol"].root is None and "share of the 32 KiB" in subs["carol"].error


def test_the_entries_budget_is_shared_fairly(tmp_path: Path) -> None:
    many = zip_bytes({"cs231n/layers.py": LAYERS, **{f"cs231n/f{i}.py": b"" for i in range(100)}})
    export = _export(tmp_path / "export.zip", {"alice.zip": _inner(), "bob.zip": _inner(), "mallory.zip": many})
    subs = by_name(collect([export], tmp_path / "work", limits=ExtractLimits(intake_members=60)))
    assert subs["alice"].error is None and subs["bob"].error is None
    assert "101 entries (limit" in subs["mallory"].error and "of the 60 entries allowed" in subs["mallory"].error


def test_a_hostile_outer_archive_is_one_batch_error(tmp_path: Path, keep_partial: None) -> None:
    crowded = _export(tmp_path / "crowded.zip", {f"s{i}/cs231n/layers.py": LAYERS for i in range(30)})
    (sub,) = collect([crowded], tmp_path / "w1", limits=ExtractLimits(intake_members=20))
    assert sub.name == "crowded" and sub.root is None and "30 entries (limit 20)" in sub.error
    heavy = _export(tmp_path / "heavy.zip", {f"s{i}.zip": _inner(pad=os.urandom(3000)) for i in range(4)})
    (sub,) = collect([heavy], tmp_path / "w2", limits=ExtractLimits(intake_bytes=8000))
    assert sub.name == "heavy" and "the limit for one input" in sub.error
    assert bytes_under(tmp_path / "w2") <= 8000


def test_one_broken_or_refused_student_does_not_stop_the_others(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("submissions/dave/cs231n/layers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    export = write_zip(tmp_path / "export.zip", [
        ("submissions/alice.zip", _inner()), ("submissions/bob.zip", b"PK not really a zip"),
        ("submissions/carol/cs231n/layers.py", LAYERS), (link, b"/etc/passwd")])
    subs = by_name(collect([export], tmp_path / "work"))
    assert sorted(subs) == ["alice", "bob", "carol", "dave"]
    assert subs["alice"].error is None and subs["carol"].error is None
    assert "zip file is broken" in subs["bob"].error
    assert "symbolic links are not allowed" in subs["dave"].error


def test_folder_export_reads_inner_zips_in_place_without_following_links(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"bob/cs231n/layers.py": "x = 2\n"})
    (export / "alice.zip").write_bytes(_inner())
    outside = tmp_path / "outside.zip"
    outside.write_bytes(_inner(secret=b"SECRET"))
    (export / "mallory.zip").symlink_to(outside)
    (export / "trudy").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    subs = by_name(collect([export], tmp_path / "work"))
    assert sorted(subs) == ["alice", "bob", "mallory", "trudy"]
    assert subs["alice"].error is None and subs["bob"].error is None
    assert "symbolic link (not followed)" in subs["mallory"].error and subs["mallory"].root is None
    assert "symbolic link (not followed)" in subs["trudy"].error
    assert b"SECRET" not in b"".join(p.read_bytes() for p in (tmp_path / "work").rglob("*") if p.is_file())


# ---- names ---------------------------------------------------------------------------------------

def test_names_keep_everything_after_a_dot_and_stay_unique(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"john.doe/cs231n/layers.py": "x = 1\n", "john.smith/layers.py": "x = 1\n",
                                         "v1.2/layers.py": "x = 1\n"})
    (export / "john.doe.zip").write_bytes(_inner())
    (export / "jane.ZIP").write_bytes(_inner())
    assert [s.name for s in collect([export], tmp_path / "w1")] == ["jane", "john.doe", "john.doe-2", "john.smith", "v1.2"]
    single = write(tmp_path / "single" / "mary.ann", {"layers.py": "x = 1\n"})
    (tmp_path / "mary.ann.zip").write_bytes(_inner())
    subs = collect([single, tmp_path / "mary.ann.zip", single, tmp_path / "nope.v2"], tmp_path / "w2")
    assert [s.name for s in subs] == ["mary.ann", "mary.ann-2", "mary.ann-3", "nope.v2"]


def test_names_are_unique_even_against_names_ending_in_a_number(tmp_path: Path) -> None:
    roots = [write(tmp_path / str(i) / name, {"layers.py": "x = 1\n"})
             for i, name in enumerate(["alice", "alice", "alice-2", "Alice"])]
    names = [s.name for s in collect(roots, tmp_path / "work")]
    assert names == ["alice", "alice-2", "alice-2-2", "Alice-3"]
    assert len({n.casefold() for n in names}) == len(names)


def test_the_current_folder_is_named_after_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(write(tmp_path / "bob.b", {"layers.py": "x = 1\n"}))
    (sub,) = collect([Path(".")], tmp_path / "work")
    assert sub.name == "bob.b" and sub.error is None


# ---- course package names come from the specs ------------------------------------------------------

def test_package_names_come_from_the_bundled_specs() -> None:
    specs = [load_spec(p) for p in sorted(spec_dir().glob("*.toml"))]
    names = bundled_package_names()
    assert names == package_names(specs)
    assert {"cs231n", "classifiers", "nndl", "utils", "deeplearning", "daseCV"} <= names
    for spec in specs:
        assert set(spec.detect.get("packages", [])) <= names
        assert {rel.split("/")[0] for rel in spec.student_modules.values()} <= names


def test_a_new_courses_package_keeps_its_zip_whole(tmp_path: Path) -> None:
    text = (spec_dir() / "cs231n-2021.toml").read_text().replace("cs231n", "mycourse")
    spec = load_spec(write(tmp_path / "specs", {"mycourse.toml": text}) / "mycourse.toml")
    packages = package_names([spec])
    assert "mycourse" in packages and "cs231n" not in packages
    one = write_zip(tmp_path / "eve.zip", [("mycourse/layers.py", LAYERS), ("helpers/plot.py", LAYERS)])
    (sub,) = collect([one], tmp_path / "w1", packages=packages | bundled_package_names())
    assert sub.name == "eve" and (sub.root / "mycourse/layers.py").exists()
    assert [s.name for s in collect([one], tmp_path / "w2", packages=bundled_package_names())] == ["helpers", "mycourse"]


# ---- folder submissions: symlinks and special files never lead out ---------------------------------

def test_folder_symlinks_leaving_the_submission_are_skipped_with_a_note(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.py": "SECRET = 1\n", "pkg/fc_net.py": "SECRET = 2\n"})
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n"})
    (src / "cs231n/optim.py").symlink_to(outside / "secret.py")
    (src / "cs231n/classifiers").symlink_to(outside / "pkg", target_is_directory=True)
    (src / "passwd.py").symlink_to("/etc/passwd")
    (src / "cs231n/alias.py").symlink_to("layers.py")  # stays inside: copied as a plain file
    (src / "cs231n/dangling.py").symlink_to(tmp_path / "missing.py")
    os.mkfifo(src / "cs231n/pipe.py")
    (sub,) = collect([src], tmp_path / "work")
    assert sub.error is None
    assert tree(sub.root) == ["cs231n/alias.py", "cs231n/layers.py"]
    assert not any(p.is_symlink() for p in sub.root.rglob("*"))
    assert (sub.root / "cs231n/alias.py").read_text() == "x = 1\n"
    assert all("SECRET" not in p.read_text() for p in sub.root.rglob("*.py"))
    notes = "\n".join(sub.notes)
    for name in ("cs231n/optim.py", "cs231n/classifiers", "passwd.py", "cs231n/dangling.py", "cs231n/pipe.py"):
        assert name in notes
    assert "outside the submission" in notes and "not a regular file" in notes


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_folder_device_files_are_never_copied(tmp_path: Path) -> None:
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n"})
    os.mknod(src / "cs231n/zero.py", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    (sub,) = collect([src], tmp_path / "work")
    assert tree(sub.root) == ["cs231n/layers.py"] and any("zero.py" in n for n in sub.notes)


def test_a_link_to_another_students_files_is_not_followed(tmp_path: Path) -> None:
    export = write(tmp_path / "export", {"alice/cs231n/layers.py": "ALICE = 1\n", "bob/cs231n/optim.py": "x = 1\n"})
    (export / "bob/cs231n/layers.py").symlink_to("../../alice/cs231n/layers.py")
    (export / "bob/alice").symlink_to("../alice", target_is_directory=True)
    subs = by_name(collect([export], tmp_path / "work"))
    assert tree(subs["bob"].root) == ["cs231n/optim.py"]
    assert any("cs231n/layers.py" in n and "outside" in n for n in subs["bob"].notes)


def test_folder_entry_limit(tmp_path: Path) -> None:
    src = write(tmp_path / "s", {f"f{i}.py": "" for i in range(12)})
    (sub,) = collect([src], tmp_path / "w1", limits=ExtractLimits(members=10))
    assert "12 entries (limit 10)" in sub.error
    (sub,) = collect([src], tmp_path / "w2", limits=ExtractLimits(intake_members=5))
    assert "more than 5 entries" in sub.error


# ---- git checkouts: .git is data, never run ---------------------------------------------------------

def _git_dir(folder: Path, canary: Path) -> None:
    """A hand-made git directory whose hooks and fsmonitor would write ``canary`` if git ran."""
    script = f"#!/bin/sh\necho ran > {canary}\n"
    write(folder, {"HEAD": "ref: refs/heads/main\n", "objects/info/packs": "", "refs/heads/main": "0" * 40 + "\n",
                   "config": f"[core]\n\tbare = false\n\tfsmonitor = {folder / 'hooks/fsmonitor'}\n"
                             f"\thooksPath = {folder / 'hooks'}\n",
                   "layers.py": "DECOY = 1\n", "cs231n/layers.py": "DECOY = 2\n"})
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
    for name in ("system", "posix_spawn", "posix_spawnp", "fork", "execv", "execve", "execvp", "popen"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse)


def test_git_checkout_is_a_folder_and_nothing_in_it_runs(tmp_path: Path, no_processes: None) -> None:
    from grader.detect import detect
    from grader.discover import find_files, stage_layout

    canary = tmp_path / "ran.txt"
    src = write(tmp_path / "repo", {"cs231n/layers.py": "x = 1\n"})
    _git_dir(src / ".git", canary)
    (src / "cs231n/.git").write_text(f"gitdir: {src / '.git'}\n")  # a worktree/submodule pointer file
    (sub,) = collect([src], tmp_path / "work")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]
    found = find_files(sub.root, {"layers": "cs231n/layers.py"})
    assert found.found["layers"] == sub.root / "cs231n/layers.py" and not found.ambiguous
    stage_layout(found, {"layers": "cs231n/layers.py"}, tmp_path / "staged")
    detect(sub.root, [load_spec(p) for p in sorted(spec_dir().glob("*.toml"))])
    assert not canary.exists()


def test_a_zipped_checkout_and_a_bare_repository_run_nothing(tmp_path: Path, no_processes: None) -> None:
    canary = tmp_path / "ran.txt"
    bare = tmp_path / "bare.git"
    _git_dir(bare, canary)
    (sub,) = collect([bare], tmp_path / "w1")
    assert sub.name == "bare.git" and sub.error is None  # a bare repo is just files; its .py are data
    assert not any(os.access(p, os.X_OK) for p in sub.root.rglob("*") if p.is_file())
    repo = write(tmp_path / "repo", {"cs231n/layers.py": "x = 1\n"})
    _git_dir(repo / ".git", canary)
    archive = write_zip(tmp_path / "repo.zip", [(p.relative_to(repo).as_posix(), p.read_bytes())
                                                for p in sorted(repo.rglob("*")) if p.is_file()])
    (sub,) = collect([archive], tmp_path / "w2")
    assert sub.error is None and tree(sub.root) == ["cs231n/layers.py"]
    assert not canary.exists()
