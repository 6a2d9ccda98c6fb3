"""``nngrader kit``: the command line of ``grader.kit.build``.

Registered by ``grader.cli`` through ``add_parser``, as ``gradescope`` is. Exit codes as
everywhere: 0 the kit was written, 2 usage, 3 setup (``GraderError``: the spec, the recording
solution, the wheel, the output folder).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

__all__ = ["add_parser"]

_KIT = (
    "Build a course's student kit (checker wheel, CI workflow, README) into DIR, laid out as an "
    "assignment repository adds it: "
    ".nngrader/<kit>.whl (the grader's engine, the course's given modules, the public checks "
    "and their expected values, never a solution), .github/workflows/nngrader.yml (CI: install "
    "the kit, check, annotate, keep the JUnit report) and NNGRADER.md for students. The "
    "expected values are recorded by grading a correct solution (default: the bundled example). "
    "See docs/kit.md."
)
_EXIT_CODES = """exit codes:
  0    the kit was written (its files are printed)
  2    usage: a bad option
  3    setup: the course spec, the solution, the wheel or the output folder"""


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """Add ``kit`` to the subcommands ``sub``; ``parents`` are every command's options."""
    kit = sub.add_parser(
        "kit",
        help="build a course's student kit (checker wheel, CI workflow, README)",
        description=textwrap.fill(_KIT, 79),
        epilog=_EXIT_CODES,
        parents=list(parents),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kit.add_argument("--assignment", required=True,
                     help="course spec id (see `nngrader list`) or id@offering")  # fmt: skip
    kit.add_argument("--offering", help="the offering (the same as id@offering)")
    kit.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="where to write the kit (an assignment repository)")  # fmt: skip
    kit.add_argument("--solution", type=Path, metavar="DIR", help="a correct submission to "
                     "record the expected values on (default: examples/<id>/correct)")  # fmt: skip
    kit.set_defaults(func=_cmd_kit)


def _cmd_kit(args: argparse.Namespace) -> int:
    from grader.errors import GraderError
    from grader.kit.build import README, WORKFLOW, build_kit
    from grader.spec.registry import get_spec

    name, _, named = str(args.assignment).partition("@")
    if named and args.offering and named != args.offering:
        raise GraderError(f"--assignment says offering {named!r}, --offering {args.offering!r}")
    offering: str | None = named or args.offering or None
    spec = get_spec(name if offering is None else f"{name}@{offering}")
    kit = build_kit(spec, args.out, offering=offering, solution=args.solution)
    size = kit.wheel.stat().st_size
    info = kit.info
    print(
        f"{info.distribution}: {info.checks} public checks, {info.points:g} points; "
        f"{info.instructor_points:g} more graded by the instructor",
        file=sys.stdout,
    )
    for path in (kit.wheel, args.out / WORKFLOW, args.out / README):
        print(f"  {path}" + (f"  ({size / 1e6:.1f} MB)" if path == kit.wheel else ""))
    return 0
