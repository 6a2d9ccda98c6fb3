"""The service's limits as ASGI middleware (``grader.service.limits``), driven directly: what a
slow body gets, and that a body once in is not timed any more."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException

from grader.service.limits import BodyDeadline


def _drive(app: Any, messages: list[dict[str, Any]], gap: float, seconds: float) -> list[Any]:
    """Run ``BodyDeadline(app, seconds)`` on one request whose ``messages`` arrive ``gap``
    seconds apart (then the client waits); what ``app`` saw."""
    seen: list[Any] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(gap)
        return messages.pop(0) if messages else await asyncio.sleep(3600)  # type: ignore[func-returns-value]

    async def send(message: dict[str, Any]) -> None:
        seen.append(message)

    async def run() -> None:
        await BodyDeadline(app, seconds)({"type": "http"}, receive, send)

    asyncio.run(run())
    return seen


def _body(*chunks: bytes) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)]  # fmt: skip


def test_a_body_that_stops_arriving_raises_408_for_the_app_to_answer() -> None:
    outcome: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                outcome.append("chunk")
        except HTTPException as exc:
            outcome.append((exc.status_code, exc.detail))

    _drive(app, _body(b"a", b"b", b"c")[:2], gap=0.05, seconds=0.3)  # the last never comes
    assert outcome == ["chunk", "chunk", (408, "the request's body did not arrive within 0.3 s")]


def test_the_deadline_is_for_the_whole_body_not_each_chunk() -> None:
    outcome: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
            outcome.append("whole")
        except HTTPException as exc:
            outcome.append(exc.status_code)

    _drive(app, _body(*[b"x"] * 10), gap=0.05, seconds=0.3)  # each in time, all too slow
    assert outcome == [408]


def test_once_the_body_is_in_reads_wait_as_long_as_they_need() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the whole body
        await asyncio.sleep(0.4)  # the endpoint works past the deadline
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "disconnect seen", "message": await receive()})

    seen = _drive(app, [*_body(b"all"), {"type": "http.disconnect"}], gap=0.05, seconds=0.2)
    assert seen[-1] == {"type": "disconnect seen", "message": {"type": "http.disconnect"}}


def test_other_scopes_pass_untouched() -> None:
    scopes: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope["type"])

    async def run() -> None:
        await BodyDeadline(app, 0.0)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    asyncio.run(run())
    assert scopes == ["lifespan"]
