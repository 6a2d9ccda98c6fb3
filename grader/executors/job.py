"""One submission's grading as a job: what any process that grades runs, and what it returns.

The batch's settings travel with each job (``Settings``), and a job gives back the result as
plain data, the instructor.json document (``grader.report.instructor``): the same whether it ran
in this process, a local worker or a machine of a cluster, and what the results store keeps.
The process that owns the store rebuilds the ``SubmissionResult`` from it.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from grader import fanout, pipeline
from grader.errors import GraderError
from grader.executors import Document
from grader.intake import Submission
from grader.notebooks.run import ExecuteOptions
from grader.report.instructor import to_instructor
from grader.spec import Spec

__all__ = ["Document", "Settings", "grade_one"]


@dataclass(frozen=True)
class Settings:
    """What every submission of a batch is graded with."""

    spec: Spec | None
    """The spec given (``--assignment``), or None to detect it among ``specs``."""
    isolation: str
    """The resolved sandbox mode: ``bwrap`` or ``process``."""
    limits: Mapping[str, float] = field(default_factory=dict)
    """Limit overrides by ``Limits`` field name."""
    data: Path | None = None
    """The CIFAR-10 folder (the same path wherever a job runs)."""
    execute: ExecuteOptions | None = None
    specs: tuple[Spec, ...] = ()
    """The specs to detect among; empty: the bundled ones of the process that grades (a cluster
    worker runs the same nngrader version, checked when the batch starts)."""


def grade_one(submission: Submission, settings: Settings, workdir: Path) -> Document:
    """Grade ``submission`` in ``workdir`` (removed after): its instructor.json document.

    A grader bug met on this submission becomes its result (not graded, the traceback on
    stderr for the instructor): it must not cost the rest of the batch their results.

    Raises:
        GraderError: the run's setup is wrong (a spec, the sandbox): the next submission would
            fare no better.
        KeyboardInterrupt: Ctrl-C; the submission's processes are killed first.
    """
    specs = settings.specs or _bundled_specs()
    try:
        with fanout.killing_leftovers():
            result = pipeline.grade_submission(
                submission,
                spec=settings.spec,
                specs=specs,
                workdir=workdir,
                isolation=settings.isolation,
                limits=dict(settings.limits),
                data=settings.data,
                execute=settings.execute,
            )
    except GraderError:
        raise
    except Exception as exc:
        traceback.print_exc()
        result = pipeline.failed(
            submission.name,
            settings.spec,
            "",
            settings.isolation,
            f"the grader failed on this submission ({type(exc).__name__}); it was not graded. "
            "Please report this to the nngrader maintainers with the traceback printed on stderr",
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return to_instructor(result)


def _bundled_specs() -> tuple[Spec, ...]:
    from grader.spec.registry import available_specs

    return tuple(available_specs().values())
