"""The hourly limit a spec sets (``[service] submissions_per_hour``): a course of the
configuration that sets its own wins, then the spec's, then the service's default. No grading:
the service runs without workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.service.config import Settings, hash_token, parse_config
from grader.service.context import Service, open_service
from grader.service.submit import hourly_limit
from tests.grader.service.conftest import ALICE, ALICE_TOKEN, COURSE_TOKEN, Served
from tests.grader.service.scenario import tiny_spec
from tests.grader.service.scenario import tiny_upload as upload


def limited_spec(folder: Path, per_hour: int) -> Path:
    """The load tests' tiny spec (``folder/tiny.toml``) with a ``[service]`` table."""
    path = tiny_spec(folder)
    path.write_text(path.read_text() + f"\n[service]\nsubmissions_per_hour = {per_hour}\n")
    return path


def service_settings(tmp_path: Path, courses: dict[str, Any], **service: Any) -> Settings:
    doc = {"service": {"secret": "test-secret", **service}, "courses": courses}
    return Settings(
        db=tmp_path / "service.sqlite",
        config=parse_config(doc, tmp_path),
        sandbox="process",
        start_workers=False,
    )


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Service]:
    spec = str(limited_spec(tmp_path, 4))
    courses = {
        "spec": {"assignment": spec},
        "own": {"assignment": spec, "submissions_per_hour": 1},
        "none": {"assignment": spec, "submissions_per_hour": 0},
        "plain": {"assignment": "cs231n-2021"},
        "broken": {"assignment": str(tmp_path / "missing.toml")},
    }
    service = open_service(service_settings(tmp_path, courses, submissions_per_hour=7))
    yield service
    service.close()


@pytest.mark.parametrize(
    ("course", "expected"), [("spec", 4), ("own", 1), ("none", 0), ("plain", 7), ("broken", 7)]
)
def test_the_course_then_the_spec_then_the_service_set_the_hourly_limit(
    opened: Service, course: str, expected: int
) -> None:
    found = opened.course(course)
    assert found is not None
    assert hourly_limit(opened, found, found.assignment) == expected


def test_a_self_check_without_a_course_takes_the_specs_limit(
    opened: Service, tmp_path: Path
) -> None:
    assert hourly_limit(opened, None, str(tmp_path / "tiny.toml")) == 4
    assert hourly_limit(opened, None, "cs231n-2021") == 7


def test_without_a_service_value_the_default_is_the_services(tmp_path: Path) -> None:
    service = open_service(service_settings(tmp_path, {"plain": {"assignment": "cs231n-2021"}}))
    try:
        course = service.course("plain")
        assert course is not None
        assert hourly_limit(service, course, "cs231n-2021") == 10  # ServiceLimits' default
    finally:
        service.close()


def test_past_the_specs_hourly_limit_a_student_gets_429(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API: a course of the tiny spec (one URL segment: read from the working
    folder) whose spec allows one submission per hour and whose configuration says nothing."""
    monkeypatch.chdir(tmp_path)
    limited_spec(tmp_path, 1)
    course = {"assignment": "tiny.toml", "token": hash_token(COURSE_TOKEN),
              "students": {"alice": hash_token(ALICE_TOKEN)}}  # fmt: skip
    live = Served(service_settings(tmp_path, {"tiny": course}))
    try:
        url = "/api/assignments/tiny.toml/submissions"
        sent = [
            live.http.post(url, files={"file": ("hw.zip", upload())}, headers=ALICE)
            for _ in range(2)
        ]
        assert [answer.status_code for answer in sent] == [202, 429]
        assert "at most 1 submissions per hour" in sent[1].json()["detail"]
    finally:
        live.stop()
