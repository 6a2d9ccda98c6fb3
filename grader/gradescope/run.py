"""Grade the one submission of a Gradescope run into ``results/results.json``, whatever happens.

``run_autograder`` runs ``python -m grader.gradescope.run`` with the choices made at build time.
The submission is ``$AUTOGRADER_ROOT/submission`` (default ``/autograder``), taken in whole
(never split as an LMS export: Gradescope gives one student's files) and named ``submission`` in
every run, so results.json never carries a path or a Gradescope id. It is graded into
``$AUTOGRADER_ROOT/nngrader-out/submission/`` (the usual files: the reports, ``output.txt`` with
what the code printed, for an instructor debugging the autograder over Gradescope's SSH session),
whose ``results.json`` is then copied, whole, to ``results/results.json``.

Gradescope shows a blank failure when a run leaves no results.json, so whatever stops the
grading (an unknown assignment, a sandbox that cannot run, a grader bug) becomes a score-0
results.json that says the autograder failed and why (``failure_document``), and the traceback
goes to stdout, which Gradescope shows the instructor alone. What this process cannot survive
(being killed) ``run_autograder`` covers itself.

Exit status: 0 graded, 1 the score-0 document was written instead, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader import api, fanout, intake, sanitize
from grader.errors import GraderError
from grader.gradescope.isolation import CHOICES, choose_isolation
from grader.report.render import RESULTS, json_text, render, write_whole
from grader.report.terminal import one_line
from grader.results import SubmissionResult
from grader.sandbox.limits import limit_fields

__all__ = ["NAME", "OUT", "failure_document", "grade_into", "main"]

NAME = "submission"
"""What every Gradescope submission is called in its results (``extra_data.submission``)."""
OUT = "nngrader-out"
"""The folder under ``$AUTOGRADER_ROOT`` that gets the submission's every file."""


def grade_into(
    root: Path, *, assignment: str, sandbox: str, limits: dict[str, float]
) -> SubmissionResult:
    """Grade ``root/submission`` into ``root/nngrader-out/submission/`` and copy its
    results.json to ``root/results/results.json``.

    Args:
        sandbox: a ``grader.gradescope.isolation.CHOICES`` value; a fallback to process mode
            is said first among the result's notes.

    Raises:
        GraderError: the spec cannot be loaded, or the sandbox choice cannot be met here.
        OSError: a file could not be written.
    """
    spec = api.get_spec(assignment)
    isolation, note = choose_isolation(sandbox)
    packages = intake.bundled_package_names() | intake.package_names([spec])
    with tempfile.TemporaryDirectory(prefix="nngrader-gradescope-") as tmp:
        with fanout.killing_leftovers():
            (submission,) = intake.collect(
                [root / "submission"], Path(tmp) / "intake", lms=False, packages=packages
            )
            submission = replace(submission, name=NAME)
            result = api.grade_submission(
                submission, spec=spec, workdir=Path(tmp) / "work", sandbox=isolation, limits=limits
            )
    result = replace(result, folder=NAME, notes=(note, *result.notes) if note else result.notes)
    written = render(result, root / OUT)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    write_whole(results / RESULTS, written.read_text(encoding="utf-8"))
    return result


def failure_document(
    reason: str, *, assignment: str, max_score: float = 0.0, seconds: float = 0.0
) -> dict[str, Any]:
    """A results.json (Gradescope's form, valid against ``results.schema.json``) scoring 0 and
    saying the autograder failed, with ``reason``."""
    return {
        "score": 0.0,
        "execution_time": round(max(seconds, 0.0), 3),
        "output": (
            "The autograder failed before grading this submission, so it scored 0. This says "
            f"nothing about your code: please tell the course staff.\nReason: {reason}"
        ),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {
            "max_score": max_score,
            "submission": NAME,
            "assignment": assignment,
            "detection": "",
            "isolation": "unknown",
            "error": reason,
            "notes": [],
        },
    }


def _points(assignment: str) -> float:
    """The points of ``assignment``'s spec, or 0 when it cannot be loaded."""
    try:
        return float(sum(c.points for c in api.get_spec(assignment).active_checks()))
    except Exception:
        return 0.0


def _limit(text: str) -> tuple[str, float]:
    """``NAME=VALUE``: a ``Limits`` field and its value in the field's units."""
    name, _, value = text.partition("=")
    kinds = {f.name: f.type for f, _ in limit_fields()}
    if name not in kinds:
        raise argparse.ArgumentTypeError(f"unknown limit {name!r} ({', '.join(sorted(kinds))})")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return name, int(number) if kinds[name] in ("int", int) else number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader.gradescope.run",
        description="Grade Gradescope's submission into results/results.json (run_autograder "
        "runs this; docs/gradescope.md).",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder"),
        help="Gradescope's folder, holding submission/ and results/ "
        "(default $AUTOGRADER_ROOT, else /autograder)",
    )
    parser.add_argument("--assignment", required=True, help="course spec id, or a spec file")
    parser.add_argument("--sandbox", choices=CHOICES, default="fallback")
    parser.add_argument(
        "--limit", type=_limit, action="append", default=[], metavar="NAME=VALUE",
        help="a grader.sandbox.Limits field and its value, in its units (repeatable)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Grade, or write the score-0 results.json saying why not; see the module's exit status."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    target = args.root / "results" / RESULTS
    try:
        result = grade_into(
            args.root, assignment=args.assignment, sandbox=args.sandbox, limits=dict(args.limit)
        )
    except Exception as exc:
        # Anything at all: a blank failure on Gradescope would tell nobody anything.
        traceback.print_exc(file=sys.stdout)
        reason = str(exc) if isinstance(exc, GraderError) else f"nngrader failed: {exc!r}"
        doc = failure_document(
            reason,
            assignment=args.assignment,
            max_score=_points(args.assignment),
            seconds=time.monotonic() - started,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        write_whole(target, json_text(doc, indent=2))
        print(f"nngrader: the autograder failed ({reason}); wrote a score-0 {target}")
        return 1
    print(one_line(result))
    for note in result.notes:
        print(f"  note: {sanitize.text(note)}")
    print(f"results in {target}; every report in {args.root / OUT / NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
