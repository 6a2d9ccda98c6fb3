"""How uvicorn serves the app: ``uvicorn_options``, with a deadline for a request's headers.

uvicorn times a connection only while it idles after a response (``timeout_keep_alive``): a
client that connects and sends its request line and headers slowly, or never, holds the
connection for ever (a "slowloris"). ``HeaderDeadline`` closes a connection whose request has
not arrived ``ServiceLimits.request_seconds`` after it opened or after its last response;
``grader.service.limits.BodyDeadline`` then gives the body as long again. A proxy in front may
cut sooner; the service does not count on one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from grader.service.limits import ServiceLimits

__all__ = ["KEEP_ALIVE_SECONDS", "HeaderDeadline", "header_deadline", "uvicorn_options"]

KEEP_ALIVE_SECONDS = 5
"""How long an idle connection stays open after a response (uvicorn's timer)."""


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a connection closed when ``seconds`` pass while it
    waits for a request's line and headers (h11: the client's state is still ``IDLE``)."""

    seconds: float = 120.0
    _deadline: asyncio.TimerHandle | None = None
    """The timer of the request awaited now (None before the connection is made)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.seconds, self._headers_due)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_due(self) -> None:
        # Past IDLE, the request is in: its body has BodyDeadline, its response no limit here.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def header_deadline(seconds: float) -> type[HeaderDeadline]:
    """``HeaderDeadline`` with its deadline set to ``seconds`` (uvicorn makes one per
    connection from a class)."""
    return type("HeaderDeadline", (HeaderDeadline,), {"seconds": seconds})


def uvicorn_options(limits: ServiceLimits) -> dict[str, Any]:
    """What uvicorn serves the app with under ``limits``, besides where (``uvicorn.run`` and
    ``uvicorn.Config`` take them as keywords)."""
    return {"http": header_deadline(limits.request_seconds),
            "timeout_keep_alive": KEEP_ALIVE_SECONDS}  # fmt: skip
