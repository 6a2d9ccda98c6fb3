"""The service's FastAPI application: ``create_app(settings)``.

The app owns one ``Service`` (``grader.service.context``) for its lifetime: opened when it
starts (the jobs table, jobs a dead service left running queued again, the worker pool started),
closed when it stops (the workers interrupted, their jobs given back). Routes live in
``jobs_api`` (students: submit, follow, results, report), ``courses_api`` (instructors) and
``pages`` (the web pages, server-rendered). An API refusal is JSON ``{"detail": "<message>"}``,
except a request that does not fit the schema, which gets FastAPI's ``{"detail": [...]}`` (both
are in the OpenAPI document, ``models.openapi``); ``app.state.service`` is the running service.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from grader import __version__
from grader.service import courses_api, jobs_api, pages
from grader.service.config import Settings
from grader.service.context import open_service
from grader.service.limits import BodyDeadline, BodyLimit
from grader.service.models import openapi

__all__ = ["create_app"]

DESCRIPTION = (
    "Grades CS231n-style numpy assignments with nngrader's pipeline in its sandbox. Students "
    "submit a file and follow its job; instructors (the course token) upload class exports and "
    "read every result. Hidden checks are never detailed to students."
)


def create_app(settings: Settings) -> FastAPI:
    """The service's app, run with ``settings`` (``uvicorn.run(create_app(...))``).

    The service opens when the app starts (an ASGI lifespan: uvicorn's, or a test client's
    ``with``), so creating the app touches nothing.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = open_service(settings)
        try:
            yield
        finally:
            # Joining the workers blocks (an interrupted child tears its sandbox down).
            await asyncio.to_thread(app.state.service.close)

    app = FastAPI(
        title="nngrader",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.openapi = functools.partial(openapi, app)  # type: ignore[method-assign]  # FastAPI's way
    limits = settings.config.limits
    app.add_middleware(BodyLimit, limit=limits.upload_bytes)
    app.add_middleware(BodyDeadline, seconds=limits.request_seconds)  # outermost: times all
    app.include_router(pages.router)  # first: its /jobs/{job} stands in front of the API's
    app.include_router(jobs_api.router)
    app.include_router(courses_api.router)
    return app
