"""The text files of a student kit: its manifest, the students' README and the CI workflow.

Both texts are jinja2 templates (``grader/kit/templates/``), rendered without autoescaping
(Markdown and YAML, not HTML) from a ``KitInfo``: values we choose (the course's id, title and
points, the wheel's name), never a student's text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

import jinja2

__all__ = ["MANIFEST_FORMAT", "KitInfo", "readme", "workflow"]

MANIFEST_FORMAT = "nngrader-kit/1"


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("grader.kit", "templates"),
        autoescape=False,  # noqa: S701 - Markdown and YAML from our own values, not HTML
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


@dataclass(frozen=True)
class KitInfo:
    """What a kit checks, and where its wheel lies in the assignment repository."""

    assignment: str
    """``id`` or ``id@offering``: what ``nngrader check`` grades against by default."""
    title: str
    distribution: str
    version: str
    wheel: str
    """The wheel's path in the assignment repository (``.nngrader/<name>.whl``)."""
    checks: int
    """Public checks of the offering's student work."""
    points: float
    """What they are worth."""
    instructor_points: float
    """What the instructor grades besides (hidden checks, the trained model's accuracy)."""

    def manifest(self) -> dict[str, Any]:
        """The kit's ``manifest.json`` (its wheel's path left out: it is not known inside)."""
        data = asdict(self)
        del data["wheel"]
        return {"format": MANIFEST_FORMAT, **data}

    def with_wheel(self, wheel: str) -> KitInfo:
        return replace(self, wheel=wheel)


def readme(info: KitInfo) -> str:
    """The students' README (Markdown)."""
    return _templates().get_template("README.md.j2").render(kit=info)


def workflow(info: KitInfo) -> str:
    """The GitHub Actions workflow of the assignment repository (YAML)."""
    return _templates().get_template("nngrader.yml.j2").render(kit=info)
