"""``nngrader check --remote``: a submission graded by a live service (uvicorn in a thread,
``--sandbox process``), printed in every ``--format`` as the local check prints it, hidden
checks' details never shown; the upload's packing; 429 and timeouts on a fake transport."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from grader.cli import main
from grader.errors import GraderError
from grader.report.gradescope import to_gradescope
from grader.results import Comparison
from grader.service.remote import (
    FILE_BYTES,
    Packed,
    pack,
    result_from_results_json,
    submit_and_wait,
)
from tests.grader.report.factories import SECRET, check, result, secret_check
from tests.grader.service.conftest import (
    ASSIGNMENT,
    BOB_TOKEN,
    EXAMPLES,
    INSTRUCTOR,
    Served,
    settings,
)
from tests.grader.service.test_grading import hidden_texts

BUGGY = EXAMPLES / "bug-relu-backward"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One grading service for the module (2 workers: the formats' gradings overlap less)."""
    served = Served(settings(tmp_path_factory.mktemp("remote"), workers=True))
    yield served
    served.stop()


def remote(live: Served, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    """``nngrader check --remote`` of the buggy example as bob: exit code, stdout, stderr."""
    code = main(["check", str(BUGGY), "--remote", str(live.http.base_url), "--token", BOB_TOKEN,
                 "--assignment", ASSIGNMENT, "--wait", "300", *options])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


def job_of(err: str) -> str:
    found = re.search(r"as job ([0-9a-f]+)", err)
    assert found, err
    return found[1]


def secrets_of(live: Served, job: str) -> list[str]:
    instructor = live.http.get(f"/api/jobs/{job}/results?view=instructor", headers=INSTRUCTOR)
    return hidden_texts(instructor.json())


@pytest.mark.slow
def test_the_table_shows_the_grade_and_never_a_hidden_checks_details(
    live: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = remote(live, capsys)
    assert code == 1  # relu_backward is wrong
    assert "relu_backward" in out and "Total: " in out
    assert "(hidden)" in out  # hidden checks keep their names and points
    secrets = secrets_of(live, job_of(err))
    assert secrets, "the bug should fail a hidden check with a message"
    for text in secrets:
        assert text not in out and text not in err


@pytest.mark.slow
@pytest.mark.parametrize("form", ["json", "junit", "github"])
def test_every_format_works_remotely(
    live: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str
) -> None:
    summary = tmp_path / "summary.md"
    code, out, err = remote(live, capsys, "--format", form, "--summary", str(summary))
    assert code == 1
    job = job_of(err)
    secrets = secrets_of(live, job)
    for text in secrets:
        assert text not in out and text not in summary.read_text(encoding="utf-8")
    if form == "json":
        served = live.http.get(f"/api/jobs/{job}/results", headers={"Authorization":
                               f"Bearer {BOB_TOKEN}"}).json()  # fmt: skip
        assert json.loads(out) == served  # the service's own document, as it sent it
        assert to_gradescope(result_from_results_json(served)) == served
    elif form == "junit":
        root = ET.fromstring(out)  # noqa: S314 - our own XML
        assert int(root.get("failures", "0")) > 0
        assert any("relu_backward" in (c.get("name") or "") for c in root.iter("testcase"))
    else:
        assert any(line.startswith("::error") and "relu_backward" in line
                   for line in out.splitlines())  # fmt: skip


def test_a_wrong_token_exits_3_with_the_services_message(
    live: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", str(BUGGY), "--remote", str(live.http.base_url), "--token", "forged",
                 "--assignment", ASSIGNMENT])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert "401 unknown token" in err


def test_remote_needs_an_assignment(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(BUGGY), "--remote", "http://127.0.0.1:9", "--assignment", ""])
    assert code == 2 and "--remote needs --assignment" in capsys.readouterr().err


def test_an_unreachable_service_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(BUGGY), "--remote", "http://127.0.0.1:9", "--assignment", ASSIGNMENT])
    assert code == 3 and "cannot reach the service" in capsys.readouterr().err


def test_results_json_reads_back_into_the_result_it_shows() -> None:
    """Every field results.json has comes back; to_gradescope of it is the same document."""
    shown = result(
        check("affine_forward", status="passed"),
        check("relu_backward", output="Your code printed:\nx\n", diagnosis="no mask",
              root_cause="relu_forward", notes=("slow",),
              comparisons=(Comparison(name="dx", passed=False, message="off",
                                      max_abs_err=float("inf"), mismatched=2, total=4),)),
        check("relu_forward", message="Your code printed: nothing"),
        secret_check("deep", "hidden"),
        secret_check("later", "after_due_date"),
        error=None, notes=("a note",), seconds=1.5, extra={"files": {"layers": "a/layers.py"}},
    )  # fmt: skip
    doc = to_gradescope(shown)
    back = result_from_results_json(doc)
    assert to_gradescope(back) == doc
    relu = back.checks[1]
    assert (relu.message, relu.output) == ("relu_backward: worst element got 1.5, expected 2.0 "
                                           "(slow)", "Your code printed:\nx\n")  # fmt: skip
    assert back.checks[3].message == "" and SECRET not in json.dumps(doc["tests"][3])
    with pytest.raises(GraderError, match=r"no results\.json"):
        result_from_results_json({"detail": "nope"})


# -- the upload -------------------------------------------------------------------------------


def test_a_folder_is_zipped_without_caches_hidden_folders_and_data(tmp_path: Path) -> None:
    (tmp_path / "cs231n" / "__pycache__").mkdir(parents=True)
    (tmp_path / "cs231n" / "layers.py").write_text("x = 1\n")
    (tmp_path / "cs231n" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    (tmp_path / ".venv2").mkdir()
    (tmp_path / ".venv2" / "site.py").write_text("\n")
    data = tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py"
    data.mkdir(parents=True)
    (data / "data_batch_1").write_bytes(b"\0" * 10)
    (tmp_path / "big.npz").write_bytes(b"\0" * (FILE_BYTES + 1))
    packed = pack(tmp_path)
    assert packed.name == f"{tmp_path.name}.zip" and packed.left_out == ("big.npz",)
    with zipfile.ZipFile(BytesIO(packed.data)) as archive:
        assert archive.namelist() == ["cs231n/layers.py"]


def test_a_file_is_sent_as_it_is_and_too_much_is_refused(tmp_path: Path) -> None:
    notebook = tmp_path / "hw.ipynb"
    notebook.write_text("{}")
    assert pack(notebook) == Packed("hw.ipynb", b"{}")
    (tmp_path / "hw.txt").write_text("x")
    with pytest.raises(GraderError, match=r"a folder or a \.zip"):
        pack(tmp_path / "hw.txt")
    with pytest.raises(GraderError, match="more than the"):
        pack(notebook, limit=1)


# -- the protocol, on a fake service -----------------------------------------------------------


def fake(answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> httpx.MockTransport:
    """A transport answering each request with the next of ``answers`` (status, JSON,
    headers)."""
    queue = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        status, body, headers = next(queue)
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handle)


TAKEN = {"job": "j1", "state": "queued", "status_url": "/api/jobs/j1",
         "results_url": "/api/jobs/j1/results", "link": "/jobs/j1?key=k"}  # fmt: skip


def test_a_full_queue_is_waited_out_as_retry_after_says() -> None:
    slept: list[float] = []
    transport = fake([
        (429, {"detail": "the grading queue is full"}, {"Retry-After": "7"}),
        (202, TAKEN, {}),
        (200, {"state": "running"}, {}),
        (200, {"state": "done"}, {}),
        (200, {"score": 1}, {}),
    ])  # fmt: skip
    doc = submit_and_wait("http://x", "t", "a", Packed("a.py", b"x"), wait=60,
                          sleep=slept.append, transport=transport)  # fmt: skip
    assert doc == {"score": 1}
    assert slept[0] == 7 and slept[1:] == [0.5]  # then the polls back off from 0.5 s


def test_a_grading_that_takes_too_long_is_an_error_naming_the_job() -> None:
    transport = fake([(202, TAKEN, {})] + [(200, {"state": "queued"}, {})] * 50)
    with pytest.raises(GraderError, match=r"not graded within 0\.1 s.*jobs/j1\?key=k"):
        submit_and_wait("http://x", None, "a", Packed("a.py", b"x"), wait=0.1,
                        sleep=lambda _: None, transport=transport)  # fmt: skip
