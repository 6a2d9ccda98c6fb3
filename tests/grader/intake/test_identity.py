"""``lms_identity``: the student and LMS id an export named a submission after."""

from __future__ import annotations

import pytest

from grader.intake import lms_identity
from grader.intake.lms import lms_identity as from_lms


@pytest.mark.parametrize(
    "name, expected",
    [
        # Moodle: a folder per student and plugin, or flat files with the file's name after it
        ("Full Name_12345_assignsubmission_file_", ("Full Name", "12345")),
        ("Full Name_12345_assignsubmission_onlinetext_", ("Full Name", "12345")),
        ("Full Name_12345_assignsubmission_file_assignment1", ("Full Name", "12345")),
        ("Full Name_12345_assignsubmission_file_-2", ("Full Name", "12345")),  # made unique
        ("Mary-Jane O'Brien_7_assignsubmission_file_", ("Mary-Jane O'Brien", "7")),
        ("José Ñúñez_42_assignsubmission_file_", ("José Ñúñez", "42")),
        ("李 雷_5_assignsubmission_file_", ("李 雷", "5")),
        ("Anne_Marie Li_901_assignsubmission_file_", ("Anne_Marie Li", "901")),
        ("Jo 2_3_4_assignsubmission_file_", ("Jo 2_3", "4")),
        # Canvas: lastfirst[_late]_<user id>_<attachment id>_<file as uploaded>
        ("lastfirst_12345_67890_file", ("lastfirst", "12345")),
        ("lastfirst_late_12345_67890_file", ("lastfirst", "12345")),
        ("lastfirst_LATE_12345_67890_assignment1", ("lastfirst", "12345")),
        ("lastfirst_12345_67890_my_assignment_1_2_final", ("lastfirst", "12345")),
        ("obrien-smith_12345_67890_a1.zip", ("obrien-smith", "12345")),
        ("o'brien_12345_67890_a1", ("o'brien", "12345")),
        ("müllerjörg_12345_67890_layers.py", ("müllerjörg", "12345")),
        # anything else: the name, no id
        ("alice", ("alice", "")),
        ("alice_123", ("alice_123", "")),
        ("alice_1_2", ("alice_1_2", "")),
        ("Full Name_assignsubmission_file_", ("Full Name_assignsubmission_file_", "")),
        ("Full Name_12x_assignsubmission_file_", ("Full Name_12x_assignsubmission_file_", "")),
        ("_12345_assignsubmission_file_", ("_12345_assignsubmission_file_", "")),
        ("v1.2", ("v1.2", "")),
        ("", ("", "")),
    ],
)
def test_lms_identity(name: str, expected: tuple[str, str]) -> None:
    assert lms_identity(name) == expected


def test_lms_identity_is_the_lms_modules_and_exported() -> None:
    import grader.intake
    import grader.intake.lms

    assert lms_identity is from_lms
    assert "lms_identity" in grader.intake.__all__ and "lms_identity" in grader.intake.lms.__all__


@pytest.mark.parametrize("student", ["Ann Lee", "Ann_Lee", "ann-lee", "Ána Lée", "A\nB"])
def test_a_moodle_folder_name_gives_back_its_student(student: str) -> None:
    assert lms_identity(f"{student}_314_assignsubmission_file_") == (student, "314")
