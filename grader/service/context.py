"""What every request of one service shares (``Service``: the settings, the jobs table, the
worker pool, the link secret, the tokens), and the FastAPI dependencies that hand it out and
say who is asking."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from grader.errors import GraderError
from grader.service.auth import Caller, identify, token_index
from grader.service.config import Course, Settings
from grader.service.grading import failure
from grader.service.jobs import Jobs
from grader.service.workers import LocalRunner, Runner, WorkerPool
from grader.spec.registry import get_spec
from grader.spec.service import ServiceSpec

__all__ = ["CallerDep", "Service", "ServiceDep", "open_service"]

SECRET = "secret"  # noqa: S105 - a file name, not a secret
"""The link secret's file in the data folder, when the configuration gives none."""


@dataclass
class Service:
    """One running service."""

    settings: Settings
    jobs: Jobs
    secret: bytes
    tokens: Mapping[str, Caller]
    pool: WorkerPool | None = None
    """None until started (and with ``start_workers`` False: jobs wait)."""
    specs: dict[str, ServiceSpec] = field(default_factory=dict)
    """Assignment -> its spec's ``[service]`` section, read once (``spec_service``)."""

    def course(self, course: str) -> Course | None:
        return self.settings.config.courses.get(course)

    def spec_service(self, assignment: str) -> ServiceSpec:
        """The ``[service]`` section of ``assignment``'s spec (one that cannot be read: none;
        grading it says why)."""
        found = self.specs.get(assignment)
        if found is None:
            try:
                found = get_spec(assignment).service
            except GraderError:
                found = ServiceSpec()
            self.specs[assignment] = found
        return found

    def close(self) -> None:
        """Stop the workers (their jobs are given back) and close the table."""
        if self.pool is not None:
            self.pool.stop()
            self.pool = None
        self.jobs.close()


def _secret(settings: Settings) -> bytes:
    """The configuration's secret, else the data folder's, made on first use (0600)."""
    if settings.config.secret:
        return settings.config.secret.encode("utf-8")
    path = settings.data / SECRET
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def open_service(settings: Settings) -> Service:
    """Open the service's store, queue again what a dead service left running, and start the
    workers (unless ``settings.start_workers`` is False).

    Raises:
        GraderError: the database or the data folder cannot be used.
    """
    try:
        settings.data.mkdir(parents=True, exist_ok=True)
        secret = _secret(settings)
    except OSError as exc:
        raise GraderError(f"cannot use the service's folder {settings.data}: {exc}") from exc
    jobs = Jobs.open(settings.db, uploads(settings.data))
    jobs.requeue_dead(failure)
    service = Service(settings, jobs, secret, token_index(settings.config))
    if settings.start_workers:
        try:
            runner = _runner(settings)
        except BaseException:
            jobs.close()
            raise
        limits = settings.config.limits
        service.pool = WorkerPool(jobs, workers=settings.workers, limits=limits, runner=runner)
        service.pool.start()
    return service


def _runner(settings: Settings) -> Runner:
    """Where jobs are graded: a child process each, or a Dask cluster (``settings.executor``).

    Raises:
        GraderError: the executor is unknown, Dask is not installed, or its cluster is unfit.
    """
    limits = settings.config.limits
    if settings.executor == "local":
        return LocalRunner(sandbox=settings.sandbox, limits=limits)
    if settings.executor != "dask":
        raise GraderError(f"unknown executor {settings.executor!r} (local, dask)")
    try:
        from grader.service.dask_runner import DaskRunner
    except ImportError as exc:
        raise GraderError(
            f"--executor dask needs Dask: pip install 'nngrader[scale]' ({exc})"
        ) from exc
    return DaskRunner.connect(scheduler=settings.scheduler, workers=settings.workers,
                              sandbox=settings.sandbox, limits=limits)  # fmt: skip


def uploads(data: Path) -> Path:
    """The uploads folder in the service's data folder."""
    return data / "uploads"


def _service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    found = identify(_service(request).tokens, authorization)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


ServiceDep = Annotated[Service, Depends(_service)]
CallerDep = Annotated[Caller, Depends(_caller)]
