"""LMS exports: when an input is split, one budget shared fairly, names, course package names."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from assignments import spec_dir
from grader.intake import ExtractLimits, bundled_package_names, collect, package_names, zip_bytes
from grader.intake.students import fair_shares
from grader.spec import load_spec
from tests.grader.intake.helpers import (
    LAYERS,
    by_name,
    bytes_under,
    export,
    inner,
    write,
    write_zip,
)

# ---- when an input is split ----------------------------------------------------------------------


def test_zip_and_lms_export_of_inner_zips(tmp_path: Path) -> None:
    one = zip_bytes({"cs231n/layers.py": b"x = 1\n"})
    canvas = tmp_path / "canvas.zip"
    canvas.write_bytes(
        zip_bytes(
            {
                "submissions/alice_1.zip": one,
                "submissions/bob_2.zip": one,
                "submissions/carol_3/cs231n/layers.py": b"x = 1\n",
            }
        )
    )
    subs = collect([canvas], tmp_path / "work")
    assert [s.name for s in subs] == ["alice_1", "bob_2", "carol_3"]
    assert all(s.error is None and (s.root / "cs231n" / "layers.py").exists() for s in subs)


def test_single_submission_zip_with_a_package_is_not_split(tmp_path: Path) -> None:
    one = tmp_path / "dave.zip"
    one.write_bytes(zip_bytes({"cs231n/layers.py": b"x = 1\n", "nndl/fc_net.py": b"y = 2\n"}))
    (sub,) = collect([one], tmp_path / "work")
    assert sub.name == "dave" and (sub.root / "nndl" / "fc_net.py").exists()


def test_lms_folder_and_forcing(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "export",
        {"alice/cs231n/layers.py": "x = 1\n", "bob/cs231n/layers.py": "x = 2\n"},
    )
    assert [s.name for s in collect([folder], tmp_path / "w1")] == ["alice", "bob"]
    assert [s.name for s in collect([folder], tmp_path / "w2", lms=False)] == ["export"]


def test_one_broken_or_refused_student_does_not_stop_the_others(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("submissions/dave/cs231n/layers.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = write_zip(
        tmp_path / "export.zip",
        [
            ("submissions/alice.zip", inner()),
            ("submissions/bob.zip", b"PK not really a zip"),
            ("submissions/carol/cs231n/layers.py", LAYERS),
            (link, b"/etc/passwd"),
        ],
    )
    subs = by_name(collect([archive], tmp_path / "work"))
    assert sorted(subs) == ["alice", "bob", "carol", "dave"]
    assert subs["alice"].error is None and subs["carol"].error is None
    assert "zip file is broken" in subs["bob"].error
    assert "symbolic links are not allowed" in subs["dave"].error


# ---- one budget for an input and everything nested in it ---------------------------------------


@pytest.mark.parametrize("hostile", ["aaron.zip", "zed.zip"])
def test_an_oversized_inner_zip_fails_only_its_student(
    tmp_path: Path, hostile: str, keep_partial: None
) -> None:
    limits = ExtractLimits(total_bytes=1024**2, intake_bytes=64 * 1024)
    canvas = export(
        tmp_path / "canvas.zip",
        {"bob.zip": inner(), "carol.zip": inner(), hostile: inner(big=bytes(80_000))},
    )
    subs = by_name(collect([canvas], tmp_path / "work", limits=limits))
    bad = subs.pop(hostile.removesuffix(".zip"))
    assert bad.root is None and "expands to more than" in bad.error
    assert "share of the 64 KiB allowed for one input of 3 submissions" in bad.error
    assert sorted(subs) == ["bob", "carol"] and all(s.error is None for s in subs.values())
    assert all((s.root / "cs231n/layers.py").read_bytes() == LAYERS for s in subs.values())
    assert bytes_under(tmp_path / "work") <= limits.intake_bytes


def test_inner_zips_each_within_limits_cannot_exceed_the_input_budget(
    tmp_path: Path, keep_partial: None
) -> None:
    fat = inner(data=os.urandom(40 * 1024))
    students = {
        "a_small.zip": inner(),
        "b_small.zip": inner(),
        **{f"fat{i}.zip": fat for i in range(4)},
    }
    archive = export(tmp_path / "export.zip", students)
    per_submission = ExtractLimits(total_bytes=48 * 1024)
    assert all(s.error is None for s in collect([archive], tmp_path / "w1", limits=per_submission))
    budget = ExtractLimits(total_bytes=48 * 1024, intake_bytes=240 * 1024)
    subs = by_name(collect([archive], tmp_path / "w2", limits=budget))
    assert subs["a_small"].error is None and subs["b_small"].error is None
    assert all("share of the 240 KiB" in subs[f"fat{i}"].error for i in range(4))
    assert bytes_under(tmp_path / "w2") <= budget.intake_bytes


def test_a_folder_student_inside_the_export_gets_a_share_too(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "export.zip",
        [
            ("alice/cs231n/layers.py", LAYERS),
            ("bob/cs231n/layers.py", LAYERS),
            ("carol/cs231n/layers.py", LAYERS),
            ("carol/cs231n/data.bin", os.urandom(50_000)),
        ],
    )
    limits = ExtractLimits(intake_bytes=32 * 1024)
    subs = by_name(collect([archive], tmp_path / "work", limits=limits))
    assert subs["alice"].error is None and subs["bob"].error is None
    assert subs["carol"].root is None and "share of the 32 KiB" in subs["carol"].error


def test_the_entries_budget_is_shared_fairly(tmp_path: Path) -> None:
    many = zip_bytes({"cs231n/layers.py": LAYERS, **{f"cs231n/f{i}.py": b"" for i in range(100)}})
    archive = export(
        tmp_path / "export.zip", {"alice.zip": inner(), "bob.zip": inner(), "mallory.zip": many}
    )
    subs = by_name(collect([archive], tmp_path / "work", limits=ExtractLimits(intake_members=60)))
    assert subs["alice"].error is None and subs["bob"].error is None
    assert "101 entries (limit" in subs["mallory"].error
    assert "of the 60 entries allowed" in subs["mallory"].error


@pytest.mark.parametrize(
    "demands, budget, cap, expected",
    [
        ([10, 100, 100], 150, 1000, [10, 70, 70]),  # the small one is met, the rest split equally
        ([100, 10, 100], 150, 1000, [70, 10, 70]),  # shares follow their demand, not their order
        ([50, 60], 1000, 40, [40, 40]),  # never above the per-submission cap
        ([5, 5], -3, 10, [0, 0]),  # a budget already spent leaves nothing
        ([], 100, 10, []),
    ],
)
def test_fair_shares(demands: list[int], budget: int, cap: int, expected: list[int]) -> None:
    assert fair_shares(demands, budget, cap) == expected


# ---- names ---------------------------------------------------------------------------------------


def test_names_keep_everything_after_a_dot_and_stay_unique(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "export",
        {
            "john.doe/cs231n/layers.py": "x = 1\n",
            "john.smith/layers.py": "x = 1\n",
            "v1.2/layers.py": "x = 1\n",
        },
    )
    (folder / "john.doe.zip").write_bytes(inner())
    (folder / "jane.ZIP").write_bytes(inner())
    names = [s.name for s in collect([folder], tmp_path / "w1")]
    assert names == ["jane", "john.doe", "john.doe-2", "john.smith", "v1.2"]
    single = write(tmp_path / "single" / "mary.ann", {"layers.py": "x = 1\n"})
    (tmp_path / "mary.ann.zip").write_bytes(inner())
    subs = collect(
        [single, tmp_path / "mary.ann.zip", single, tmp_path / "nope.v2"], tmp_path / "w2"
    )
    assert [s.name for s in subs] == ["mary.ann", "mary.ann-2", "mary.ann-3", "nope.v2"]


def test_names_are_unique_even_against_names_ending_in_a_number(tmp_path: Path) -> None:
    roots = [
        write(tmp_path / str(i) / name, {"layers.py": "x = 1\n"})
        for i, name in enumerate(["alice", "alice", "alice-2", "Alice"])
    ]
    names = [s.name for s in collect(roots, tmp_path / "work")]
    assert names == ["alice", "alice-2", "alice-2-2", "Alice-3"]
    assert len({n.casefold() for n in names}) == len(names)


# ---- course package names come from the specs ----------------------------------------------------


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
    one = write_zip(
        tmp_path / "eve.zip", [("mycourse/layers.py", LAYERS), ("helpers/plot.py", LAYERS)]
    )
    (sub,) = collect([one], tmp_path / "w1", packages=packages | bundled_package_names())
    assert sub.name == "eve" and (sub.root / "mycourse/layers.py").exists()
    split = collect([one], tmp_path / "w2", packages=bundled_package_names())
    assert [s.name for s in split] == ["helpers", "mycourse"]
