"""A spec's ``[service]`` section: what the grading service (``nngrader serve``) takes of this
assignment.

Nothing here is graded. ``submissions_per_hour`` (a whole number >= 0; 0: no limit) is how many
submissions one student (or, anonymous, one client address) may make in an hour; a course of
the service's configuration that sets its own wins over it, and it wins over the service's
default (``grader.service.config``)::

    [service]
    submissions_per_hour = 4
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import SpecError
from grader.spec.reader import Reader

__all__ = ["ServiceSpec", "parse_service"]


@dataclass(frozen=True)
class ServiceSpec:
    """The ``[service]`` section (absent: everything left to the service)."""

    submissions_per_hour: int | None = None
    """Per student and hour; None: the service's default."""


def parse_service(table: Reader) -> ServiceSpec:
    """The ``[service]`` table ``table`` (empty when the spec has none)."""
    table.only("submissions_per_hour")
    if "submissions_per_hour" not in table.raw:
        return ServiceSpec()
    rate = int(table.integer("submissions_per_hour"))
    if rate < 0:
        raise SpecError(table.path, table.key("submissions_per_hour"), "must be 0 or more")
    return ServiceSpec(submissions_per_hour=rate)
