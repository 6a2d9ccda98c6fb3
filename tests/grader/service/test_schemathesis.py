"""The published schema against the live service: schemathesis generates requests for every
operation of ``/openapi.json`` (anonymous, with a token nobody has, with the course token, with
a student's token; on made-up ids and on real jobs) and every answer must be no server error,
with a documented status code, content type, headers and body. Then the intake behind the
upload routes gets bytes schemathesis cannot name (a ``.zip``, ``.py`` or ``.ipynb`` file).

No workers run: generated uploads are queued, never graded. A failed job (its result stored at
once, as for an export's student that cannot be taken in) gives the results routes a document.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.errors import FailureGroup

from grader.service.grading import failure
from grader.service.jobs import NewJob
from tests.grader.service.conftest import (
    ALICE,
    ALICE_TOKEN,
    ASSIGNMENT,
    COURSE,
    COURSE_TOKEN,
    Served,
    auth,
    submit,
)

pytestmark = pytest.mark.slow

EXAMPLES = 12
"""Generated requests per operation and caller (4 callers, 12 operations: a few seconds)."""
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
CALLERS: dict[str, dict[str, str] | None] = {
    "anonymous": None,  # as generated: no token, or a made-up one where a route needs one
    "forged": auth("a-token-nobody-has"),
    "course": auth(COURSE_TOKEN),
    "student": auth(ALICE_TOKEN),
}
KNOWN: set[tuple[str, str]] = {
    # pages.job_status_page stands in front of /jobs/{job}: an unknown token's 401 (from the
    # caller dependency) is its HTML page there, not the API's JSON, whatever the client accepts.
    ("forged", "GET /jobs/{job}"),
}
"""(caller, operation) pairs whose known deviation is not checked yet."""
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _jobs(live: Served, correct_zip: bytes) -> dict[str, Any]:
    """Real jobs to aim at: alice's (queued), an anonymous one (with its key), and a failed one
    of alice's whose result is stored."""
    alice = submit(live.http, correct_zip, ALICE).json()["job"]
    anonymous = submit(live.http, correct_zip).json()
    broken = NewJob(
        course=COURSE,
        assignment=ASSIGNMENT,
        name="alice-broken",
        student="alice",
        submitter=f"{COURSE}:alice",
        upload=None,
        failed=failure("alice-broken", ASSIGNMENT, "could not be taken in"),
    )
    (failed,) = live.service.jobs.add([broken])
    key = anonymous["link"].partition("key=")[2]
    return {"ids": [alice, anonymous["job"], failed], "key": key}


def _strategy(operation: Any, jobs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Cases of ``operation``: as schemathesis makes them, and aimed at what exists."""
    params = {p.name for p in operation.path_parameters}
    made: list[st.SearchStrategy[Any]] = [operation.as_strategy()]
    if "job" in params:
        made += [operation.as_strategy(path_parameters={"job": job}) for job in jobs["ids"]]
        if any(p.name == "key" for p in operation.query):
            keyed = {"path_parameters": {"job": jobs["ids"][1]}, "query": {"key": jobs["key"]}}
            made.append(operation.as_strategy(**keyed))
    if "course" in params:
        made.append(operation.as_strategy(path_parameters={"course": COURSE}))
    if "assignment" in params:
        made.append(operation.as_strategy(path_parameters={"assignment": ASSIGNMENT}))
    return st.one_of(made)


def _run(
    operation: Any, jobs: dict[str, Any], base: str, headers: dict[str, str] | None
) -> list[str]:
    """Every check's failure over ``operation``'s generated cases (each case's first)."""
    found: list[str] = []

    @HYPOTHESIS
    @given(case=_strategy(operation, jobs))
    def one(case: Any) -> None:
        try:
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
        except (AssertionError, FailureGroup) as exc:  # one failure, or several
            found.append(f"{case.method} {case.formatted_path}: {str(exc)[:2000]}")

    one()
    return found


def test_every_generated_request_gets_a_documented_answer_and_no_server_error(
    served: Callable[..., Served], correct_zip: bytes
) -> None:
    live = served(submissions_per_hour=0)  # no hourly limit: generated uploads reach intake
    jobs = _jobs(live, correct_zip)
    base = str(live.http.base_url).rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures: list[str] = []
    for operation in operations:
        for caller, headers in CALLERS.items():
            if (caller, operation.label) in KNOWN:
                continue
            failures += [f"[{caller}] {f}" for f in _run(operation, jobs, base, headers)]
    assert not failures, "\n\n".join(failures)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
_UPLOADS = st.one_of(
    st.tuples(st.sampled_from(["hw.zip", "hw.py", "hw.ipynb", "HW.ZIP"]), st.binary(max_size=256)),
    st.tuples(st.just("hw.py"), st.text(max_size=200).map(lambda t: t.encode("utf-8"))),
    st.tuples(
        st.just("hw.zip"),
        st.dictionaries(_NAMES.map(lambda n: n + ".py"), st.binary(max_size=64), max_size=3).map(
            _zip
        ),
    ),
)


def test_uploads_of_any_bytes_are_taken_or_refused_never_a_server_error(
    served: Callable[..., Served],
) -> None:
    """What intake gets from the upload routes: random bytes under a name it takes, random zips
    (a student's, and a class export)."""
    live = served(submissions_per_hour=0)

    @HYPOTHESIS
    @given(upload=_UPLOADS, export=st.booleans())
    def one(upload: tuple[str, bytes], export: bool) -> None:
        name, data = upload
        if export:
            answer = live.http.post(
                f"/api/courses/{COURSE}/uploads",
                files={"file": (name, data)},
                headers=auth(COURSE_TOKEN),
            )
        else:
            answer = submit(live.http, data, ALICE, name=name)
        assert answer.status_code in (202, 422), (name, data[:100], answer.text[:500])

    one()
