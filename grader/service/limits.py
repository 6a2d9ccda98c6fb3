"""What the service takes and how much: upload size, intake limits, submissions per hour, queue
length, the time a request's body may take to arrive, the wall time of a grading. Each refusal is
an ``HTTPException`` with a clear detail (408 too slow, 413 too large, 429 with ``Retry-After`` for
the queue and the rate)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import BinaryIO

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.intake import ExtractLimits

__all__ = [
    "HOUR",
    "BodyDeadline",
    "BodyLimit",
    "ServiceLimits",
    "queue_full",
    "rate_limited",
    "read_capped",
]

HOUR = 3600.0
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ServiceLimits:
    """The service's limits (``[service]`` in the configuration file)."""

    max_upload_mb: float = 20.0
    """Largest upload (the request body's file), in MiB."""
    submissions_per_hour: int = 10
    """Per student (per client address when anonymous); 0: no limit. A course may set its own."""
    max_queue: int = 200
    """Queued jobs past which a submission is refused (429) until the queue drains."""
    retry_after: int = 30
    """Seconds a client refused for a full queue is asked to wait."""
    request_seconds: float = 120.0
    """Wall time in which a request's line and headers must arrive (the connection is closed
    past it: ``grader.service.server``), and then its body (408 past it): a client that sends
    slowly, or stops, does not hold a connection and its half-read upload for ever."""
    job_seconds: float = 1800.0
    """Wall time of one grading (its child process is killed past it: the attempt counts)."""
    submission_mb: int = 200
    """Uncompressed bytes of one submission (intake), in MiB."""
    export_mb: int = 1024
    """Uncompressed bytes of one class export with every inner zip (intake), in MiB."""

    def __post_init__(self) -> None:
        positive = ("max_upload_mb", "request_seconds", "job_seconds", "submission_mb",
                    "export_mb", "max_queue")  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.submissions_per_hour < 0 or self.retry_after < 0:
            raise ValueError("submissions_per_hour and retry_after must be >= 0")

    @property
    def upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024**2)

    def extract(self) -> ExtractLimits:
        """The intake limits an upload is taken in with (smaller than a batch's defaults: the
        service takes files from anyone)."""
        whole = self.submission_mb * 1024**2
        return ExtractLimits(
            total_bytes=whole,
            file_bytes=min(whole, ExtractLimits().file_bytes),
            intake_bytes=self.export_mb * 1024**2,
        )


def read_capped(file: BinaryIO, limit: int) -> bytes:
    """The bytes of ``file``, at most ``limit`` of them.

    Raises:
        HTTPException: 413 when ``file`` holds more.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := file.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the upload is larger than the limit of {limit / 1024**2:g} MiB",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def queue_full(queued: int, limits: ServiceLimits) -> HTTPException | None:
    """The 429 for a submission arriving with ``queued`` jobs waiting, or None."""
    if queued < limits.max_queue:
        return None
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"the grading queue is full ({queued} submissions waiting); try again later",
        headers={"Retry-After": str(limits.retry_after)},
    )


def rate_limited(recent: list[float], per_hour: int, now: float) -> HTTPException | None:
    """The 429 for one more submission by someone who submitted at ``recent`` (Unix times,
    within the last hour), or None. ``Retry-After``: until the oldest leaves the hour."""
    if per_hour <= 0 or len(recent) < per_hour:
        return None
    wait = max(1, math.ceil(min(recent) + HOUR - now))
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"at most {per_hour} submissions per hour; the next is taken in {wait} s",
        headers={"Retry-After": str(wait)},
    )


_MARGIN = 64 * 1024
"""Bytes a request body may hold beyond the upload itself (multipart headers, boundaries)."""


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` (+ a margin for the multipart
    framing) is refused with 413, by its ``Content-Length`` before anything is read, and while
    it is read otherwise (a chunked body): the form parser never spools more than that."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.upload, self.limit = app, limit, limit + _MARGIN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the request is larger than the upload limit of {self.upload / 1024**2:g} MiB",
        )
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            response = JSONResponse({"detail": too_large.detail}, too_large.status_code)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException: FastAPI's body parsing lets it through as it is.
                    raise too_large
            return message

        await self.app(scope, counted, send)


class BodyDeadline:
    """ASGI middleware: a request whose body has not all arrived ``seconds`` after the request
    began is refused with 408 (the endpoint never runs, so nothing of it is kept). Once the body
    is in, the app's further reads (a response listening for the client leaving) wait as long
    as they need."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                # An HTTPException: FastAPI's body parsing lets it through as it is.
                raise HTTPException(
                    status.HTTP_408_REQUEST_TIMEOUT,
                    f"the request's body did not arrive within {self.seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)
