"""Taking submissions in: folders, zips, LMS exports, git checkouts, and refusals."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from grader.discover import find_files, stage_layout
from grader.intake import ExtractLimits, collect, zip_bytes

LAYOUT = {"layers": "cs231n/layers.py", "fc_net": "cs231n/classifiers/fc_net.py"}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_folder_skips_caches_vcs_and_links(tmp_path: Path) -> None:
    src = write(tmp_path / "alice", {"cs231n/layers.py": "x = 1\n", "cs231n/__pycache__/layers.cpython-311.pyc": "",
                                     ".git/config": "", "notes.pyc": ""})
    (src / "link.py").symlink_to("/etc/passwd")
    (sub,) = collect([src], tmp_path / "work")
    assert sub.name == "alice" and sub.error is None
    assert sorted(p.relative_to(sub.root).as_posix() for p in sub.root.rglob("*") if p.is_file()) == ["cs231n/layers.py"]


def test_git_checkout_is_a_folder(tmp_path: Path) -> None:
    import subprocess

    src = write(tmp_path / "repo", {"cs231n/layers.py": "x = 1\n"})
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    (sub,) = collect([src], tmp_path / "work")
    assert sub.error is None and not (sub.root / ".git").exists()


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


def test_discovery_prefers_the_canonical_path_and_reports_alternatives(tmp_path: Path) -> None:
    root = write(tmp_path / "s", {"old/fc_net.py": "old = 1\n", "x/cs231n/classifiers/fc_net.py": "new = 1\n",
                                  "x/cs231n/layers.py": "l = 1\n", "x/cs231n/fast_layers.py": "f = 1\n"})
    found = find_files(root, {**LAYOUT, "optim": "cs231n/optim.py"})
    assert found.found["fc_net"] == root / "x/cs231n/classifiers/fc_net.py"
    assert found.ambiguous["fc_net"] == [root / "old/fc_net.py"]
    assert found.missing == ["optim"]
    staged = stage_layout(found, {**LAYOUT, "optim": "cs231n/optim.py"}, tmp_path / "staged")
    assert (staged / "cs231n/classifiers/__init__.py").exists() and (staged / "cs231n/fast_layers.py").exists()
    assert (staged / "cs231n/classifiers/fc_net.py").read_text() == "new = 1\n"


@pytest.mark.parametrize("flat", [True, False])
def test_flat_uploads_are_rebuilt_into_the_layout(tmp_path: Path, flat: bool) -> None:
    files = {"layers.py": "l = 1\n", "fc_net.py": "f = 1\n"} if flat else {"a/layers.py": "l = 1\n", "b/fc_net.py": "f = 1\n"}
    root = write(tmp_path / "s", files)
    staged = stage_layout(find_files(root, LAYOUT), LAYOUT, tmp_path / "staged")
    assert (staged / "cs231n/layers.py").exists() and (staged / "cs231n/classifiers/fc_net.py").exists()
