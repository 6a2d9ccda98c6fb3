"""Shared pieces of the service's tests: a configuration with one course, clients of the app,
and the bundled examples as uploads (the project's own code: graded with ``--sandbox process``)."""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from grader.service.app import create_app
from grader.service.config import Settings, hash_token, parse_config
from grader.service.server import uvicorn_options
from tests.grader.service.scenario import (
    COURSE_TOKEN,
    EXAMPLES,
    ServiceProcess,
)

ALICE_TOKEN = "alice-token"  # noqa: S105
BOB_TOKEN = "bob-token"  # noqa: S105
COURSE = "cs"
ASSIGNMENT = "cs231n-2021"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


INSTRUCTOR, ALICE, BOB = auth(COURSE_TOKEN), auth(ALICE_TOKEN), auth(BOB_TOKEN)


def config_doc(**service: Any) -> dict[str, Any]:
    """A configuration: course ``cs`` (alice's token stored hashed, bob's as given)."""
    return {
        "service": {"secret": "test-secret", **service},
        "courses": {
            COURSE: {
                "assignment": ASSIGNMENT,
                "token": hash_token(COURSE_TOKEN),
                "students": {"alice": hash_token(ALICE_TOKEN), "bob": BOB_TOKEN},
            }
        },
    }


def settings(tmp_path: Path, *, workers: bool = False, **service: Any) -> Settings:
    return Settings(
        db=tmp_path / "service.sqlite",
        config=parse_config(config_doc(**service), tmp_path),
        workers=1,
        sandbox="process",
        start_workers=workers,
    )


def zipped(folder: Path, prefix: str = "") -> bytes:
    """A zip of ``folder``'s files (under ``prefix``/, when given)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"{prefix}{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


@pytest.fixture(scope="session")
def correct_zip() -> bytes:
    return zipped(EXAMPLES / "correct")


@pytest.fixture(scope="session")
def buggy_zip() -> bytes:
    return zipped(EXAMPLES / "bug-relu-backward")


class Served:
    """The app served by uvicorn on a free local port, in a thread (its lifespan runs: the
    service opens and closes as in production)."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on",
                                **uvicorn_options(settings.config.limits))  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        port = self.sock.getsockname()[1]
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    @property
    def service(self) -> Any:
        return self.server.config.loaded_app.app.state.service  # under uvicorn's wrapper

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


Client = Callable[..., httpx.Client]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Starts services on ``tmp_path``'s database (``workers=True``: jobs are graded)."""
    started: list[Served] = []

    def make(**kwargs: Any) -> Served:
        started.append(Served(settings(tmp_path, **kwargs)))
        return started[-1]

    yield make
    for one in reversed(started):
        if one.thread.is_alive():
            one.stop()


@pytest.fixture
def client(served: Callable[..., Served]) -> Client:
    """Makes clients of a started service (``workers=True``: jobs are graded)."""
    return lambda **kwargs: served(**kwargs).http


def submit(
    api: httpx.Client, data: bytes, headers: dict[str, str] | None = None, name: str = "hw.zip"
) -> Any:
    """POST a submission; the response."""
    return api.post(
        f"/api/assignments/{ASSIGNMENT}/submissions",
        files={"file": (name, data, "application/zip")},
        headers=headers or {},
    )


def wait_state(
    api: httpx.Client, url: str, headers: dict[str, str], states: tuple[str, ...], seconds: float
) -> dict[str, Any]:
    """Poll the job's status URL until its state is one of ``states``."""
    deadline = time.monotonic() + seconds
    while True:
        found: dict[str, Any] = api.get(url, headers=headers).json()
        if found["state"] in states or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def service_process(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Starts ``ServiceProcess``es in ``tmp_path`` (``(config, db, workers=2)``); stops what is
    left running."""
    started: list[ServiceProcess] = []

    def start(config: Path, db: Path, workers: int = 2) -> ServiceProcess:
        started.append(ServiceProcess(tmp_path, config, db, workers))
        return started[-1]

    yield start
    for one in started:
        one.stop()
