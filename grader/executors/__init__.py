"""Where a batch's jobs run: worker processes on this machine (``local``), or a Dask cluster
(``cluster``). Both survive the death of the process that grades a submission.

An executor runs jobs (``grader.executors.job``) and reports each one's life to ``Events``: it
began, it finished with its document, or the process grading it died (``lost``: the store
decides whether it is tried again). It stops handing out work when the batch's ``Stop`` is
requested, and interrupts what runs; a job that raised a setup error (``GraderError``) stops the
batch, and the error is raised once what still runs has finished.

Modules: ``job`` (what runs: settings, one grading, its document), ``local`` (the pool of worker
processes), ``shipped`` (a submission as bytes, graded where they land), ``cluster`` (Dask).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["EXECUTORS", "Document", "Events"]

Document = dict[str, Any]
"""What grading a submission returns wherever it ran: its instructor.json document (a whole
result as plain JSON values, ``grader.report.instructor``)."""

EXECUTORS = ("local", "dask")
"""``--executor`` choices."""


class Events(Protocol):
    """What an executor tells the batch, by job index (in the order things happen)."""

    def begin(self, i: int) -> None:
        """Job ``i`` is handed to a worker (again, after ``lost``)."""

    def done(self, i: int, document: Document) -> None:
        """Job ``i`` finished: its result."""

    def lost(self, i: int, reason: str) -> bool:
        """The worker grading job ``i`` died (``reason``); True: run it again."""
