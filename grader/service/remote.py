"""``nngrader check --remote URL``: have a grading service grade one submission, and read its
results back as the local check's.

Three steps, each a function: ``pack`` turns the student's PATH into one upload (a folder
zipped in memory without caches, VCS data, hidden folders and data files; a ``.zip``,
``.ipynb`` or ``.py`` sent as it is), ``submit_and_wait`` submits it
(``POST /api/assignments/{assignment}/submissions``), follows its job until it is graded
(``GET /api/jobs/{id}``, backing off, honouring ``429 Retry-After``) and fetches its
results.json (the student view: a hidden check keeps its name, status and points, never its
message or values), and ``result_from_results_json`` turns that document back into the
``SubmissionResult`` the local formatters take. The round trip is exact:
``to_gradescope(result_from_results_json(doc)) == doc``.

httpx is imported only when a request is made (the ``test`` extra, or ``pip install httpx``).
Whatever the service refuses, or a job that does not finish in time, is a ``GraderError``
naming the service's own message (the command exits 3).
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.intake import SKIP_DIRS
from grader.results import CheckResult, Comparison, SubmissionResult

if TYPE_CHECKING:
    import httpx

__all__ = ["Packed", "check_remote", "pack", "result_from_results_json", "submit_and_wait"]

UPLOAD_BYTES = 20 * 1024**2
"""Largest upload sent: the service's default ``max_upload_mb`` (it refuses more with 413)."""
FILE_BYTES = 10 * 1024**2
"""A file of a folder larger than this is data (CIFAR batches, checkpoints), not code: left out."""
DATA_DIRS = frozenset({"cifar-10-batches-py"})
"""Folders of data the grader has its own copy of."""
SUFFIXES = (".zip", ".ipynb", ".py")
"""Files sent as they are (what the service takes)."""
FIRST_POLL, MAX_POLL = 0.5, 5.0
"""Seconds between status polls: from the first, times 1.5 each time, up to the most."""
FINISHED = ("done", "failed")


@dataclass(frozen=True)
class Packed:
    """What is uploaded: the file's name and bytes, and the files of a folder left out."""

    name: str
    data: bytes
    left_out: tuple[str, ...] = ()


# -- the upload -----------------------------------------------------------------------------------


def _skipped(folder: str) -> bool:
    """Whether a folder is left out: caches and VCS data (intake's ``SKIP_DIRS``), hidden
    folders, data."""
    return folder in SKIP_DIRS or folder in DATA_DIRS or folder.startswith(".")


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` but bytecode, skipped folders not walked; links are
    not followed (intake refuses them anyway)."""
    for folder, dirs, files in os.walk(root):
        base = PurePosixPath(Path(folder).relative_to(root).as_posix())
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink() and not name.endswith(".pyc"):
                yield str(base / name), path


def pack(path: Path, limit: int = UPLOAD_BYTES) -> Packed:
    """The upload of ``path``: a ``.zip``, ``.ipynb`` or ``.py`` file as it is, a folder as a
    zip of its files (files over ``FILE_BYTES`` left out, and named).

    Raises:
        GraderError: another kind of file, nothing to send, or more than ``limit`` bytes.
    """
    if path.is_file():
        if not path.name.lower().endswith(SUFFIXES):
            raise GraderError(f"{path}: the service takes a folder or a {', '.join(SUFFIXES)} file")
        packed = Packed(path.name, path.read_bytes())
    else:
        buf, count = io.BytesIO(), 0
        left_out: list[str] = []
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel, file in _files(path):
                if file.stat().st_size > FILE_BYTES:
                    left_out.append(rel)
                    continue
                archive.write(file, rel)
                count += 1
        if not count:
            raise GraderError(f"{path}: no files to submit")
        name = f"{path.resolve().name or 'submission'}.zip"
        packed = Packed(name, buf.getvalue(), tuple(left_out))
    if len(packed.data) > limit:
        raise GraderError(
            f"{path}: {len(packed.data) / 1024**2:.1f} MiB to upload, more than the "
            f"{limit / 1024**2:g} MiB a service takes; leave data files out"
        )
    return packed


# -- the service ----------------------------------------------------------------------------------


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise GraderError(
            "nngrader check --remote needs httpx: pip install httpx (or 'nngrader[test]')"
        ) from exc
    return httpx


def _detail(response: httpx.Response) -> str:
    """The service's own words for a refusal (``{"detail": ...}``), else the status line."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    words = detail if isinstance(detail, str) else response.reason_phrase
    return f"{response.status_code} {words}"


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else default


def _call(
    client: httpx.Client,
    method: str,
    url: str,
    deadline: float,
    sleep: Callable[[float], None],
    **kwargs: Any,
) -> httpx.Response:
    """One request, sent again after a 429 for as long as its ``Retry-After`` ends before
    ``deadline`` (a full queue drains; an hourly limit usually does not, and is said at once).

    Raises:
        GraderError: the service cannot be reached, or refused (4xx, 5xx) with its message.
    """
    errors = _httpx().HTTPError
    while True:
        try:
            response = client.request(method, url, **kwargs)
        except errors as exc:
            raise GraderError(f"cannot reach the service at {client.base_url}: {exc}") from exc
        if response.status_code == 429:
            wait = _retry_after(response, MAX_POLL)
            if time.monotonic() + wait < deadline:
                sleep(wait)
                continue
        if response.status_code >= 400:
            where = url.partition("?")[0]  # not the job's key
            raise GraderError(f"the service refused {method} {where}: {_detail(response)}")
        return response


def submit_and_wait(
    url: str,
    token: str | None,
    assignment: str,
    upload: Packed,
    *,
    wait: float = 1800.0,
    echo: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    transport: Any = None,
) -> dict[str, Any]:
    """Submit ``upload`` to the service at ``url`` for ``assignment`` (``token``: the student's;
    None: an anonymous self-check), wait at most ``wait`` seconds for its grading, and return
    its results.json document (the student view).

    Args:
        echo: told what happens (the job's id, its states), for stderr.
        transport: an httpx transport (tests); None: the network.

    Raises:
        GraderError: the service refused (its message), or the job was not graded in time.
    """
    httpx = _httpx()
    deadline = time.monotonic() + wait
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60.0,
                      transport=transport) as client:  # fmt: skip
        files = {"file": (upload.name, upload.data, "application/octet-stream")}
        taken = _call(client, "POST", f"/api/assignments/{assignment}/submissions", deadline,
                      sleep, files=files).json()  # fmt: skip
        echo(f"submitted {upload.name} as job {taken['job']}; waiting for its grading")
        pause, state = FIRST_POLL, taken.get("state", "queued")
        while True:
            status = _call(client, "GET", taken["status_url"], deadline, sleep).json()
            if status["state"] != state:
                state = status["state"]
                echo(f"job {taken['job']}: {state}")
            if state in FINISHED:
                break
            if time.monotonic() + pause > deadline:
                raise GraderError(
                    f"job {taken['job']} was not graded within {wait:g} s (it is {state}); "
                    f"follow it at {url.rstrip('/')}{taken['link']}"
                )
            sleep(pause)
            pause = min(pause * 1.5, MAX_POLL)
        doc: dict[str, Any] = _call(client, "GET", taken["results_url"], deadline, sleep).json()
    return doc


def check_remote(
    url: str,
    token: str | None,
    assignment: str,
    path: Path,
    *,
    wait: float,
    echo: Callable[[str], None],
) -> SubmissionResult:
    """``nngrader check --remote``: ``path`` graded by the service at ``url``, as the result
    the local formatters take (``echo``: what happens, for stderr).

    Raises:
        GraderError: nothing to send, the service refused, or the grading took too long.
    """
    upload = pack(path)
    if upload.left_out:
        echo(f"left out (over {FILE_BYTES / 1024**2:g} MiB): {', '.join(upload.left_out)}")
    doc = submit_and_wait(url, token, assignment, upload, wait=wait, echo=echo)
    return result_from_results_json(doc)


# -- results.json back to a result ----------------------------------------------------------------

_PRINTED = "Your code printed:\n"
"""How a test's output introduces what the code printed (``grader.report.gradescope``)."""
_KNOWN = ("max_score", "submission", "assignment", "detection", "isolation", "error", "notes")
"""``extra_data``'s own keys; the rest is the result's ``extra``."""


def _message_and_output(
    text: str, diagnosis: str | None, root_cause: str | None
) -> tuple[str, str]:
    """A test's ``message`` and printed ``output``, out of its output text (the message, then
    the diagnosis, the root cause and what the code printed, one to a line, blanks left out)."""
    middle = "\n".join(
        ([f"Looks like: {diagnosis}"] if diagnosis else [])
        + ([f"Likely root cause: check '{root_cause}' failed too"] if root_cause else [])
    )
    head, printed = text, ""
    start = 0
    while (found := text.find(_PRINTED, start)) >= 0:
        before = text[:found].removesuffix("\n")
        if (found == 0 or text[found - 1] == "\n") and before.endswith(middle):
            head, printed = before, text[found + len(_PRINTED) :]
            break
        start = found + 1
    if middle:
        head = "" if head == middle else head.removesuffix("\n" + middle)
    return head, printed


def _number(value: Any) -> float | None:
    """A comparison's error: a number, or ``"nan"``/``"inf"`` as results.json writes them."""
    return None if value is None else float(value)


def _comparison(c: Mapping[str, Any]) -> Comparison:
    return Comparison(
        name=c["name"],
        passed=bool(c["passed"]),
        message=c["message"],
        max_abs_err=_number(c["max_abs_err"]),
        max_rel_err=_number(c["max_rel_err"]),
        mismatched=int(c["mismatched"]),
        total=int(c["total"]),
    )


def _check(test: Mapping[str, Any]) -> CheckResult:
    extra = test["extra_data"]
    part = test["tags"][0]
    message, output = _message_and_output(test["output"], extra["diagnosis"], extra["root_cause"])
    return CheckResult(
        check_id=extra["check_id"],
        status=extra["status"],
        message=message,
        comparisons=tuple(_comparison(c) for c in extra["comparisons"]),
        diagnosis=extra["diagnosis"],
        output=output,
        seconds=float(extra["seconds"]),
        part=part,
        title=test["name"].removeprefix(f"{part}: "),
        score=float(test["score"]),
        max_score=float(test["max_score"]),
        visibility=test["visibility"],
        root_cause=extra["root_cause"],
        counts=bool(extra["counts"]),
    )


def result_from_results_json(doc: Mapping[str, Any]) -> SubmissionResult:
    """The result a results.json document (``grader.report.gradescope.to_gradescope``) shows:
    what the local formatters (table, JUnit, GitHub annotations, Markdown) take. What the
    document never held (a hidden check's message, what the code printed in checks that are
    not visible, the instructor's log) stays empty.

    Raises:
        GraderError: ``doc`` is not a results.json document.
    """
    try:
        extra = doc["extra_data"]
        return SubmissionResult(
            name=extra["submission"],
            assignment=extra["assignment"],
            detection=extra["detection"],
            checks=tuple(_check(t) for t in doc["tests"]),
            isolation=extra["isolation"],
            error=extra["error"],
            notes=tuple(extra["notes"]),
            seconds=float(doc["execution_time"]),
            extra={k: v for k, v in extra.items() if k not in _KNOWN},
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise GraderError(f"the service sent no results.json: {type(exc).__name__}: {exc}") from exc
