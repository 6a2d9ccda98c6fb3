"""``nngrader gradescope build``: the command line of ``grader.gradescope.bundle``.

Registered by ``grader.cli`` through ``add_parser``, so that the main command line gains a
command without gaining its options. Exit codes as everywhere: 0 the zip was written, 2 usage,
3 setup (``GraderError``: the spec, a limit, the wheel, the output folder), which
``grader.cli.main`` turns into its message.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.gradescope.isolation import CHOICES
from grader.sandbox.limits import limit_fields

__all__ = ["add_parser"]

_BUILD = (
    "Write the autograder zip Gradescope takes (Configure Autograder, zip upload): setup.sh "
    "installs bubblewrap and nngrader (a wheel built from this tree, its dependencies from "
    "PyPI) into a venv; run_autograder grades each submission against --assignment into "
    "/autograder/results/results.json, and writes a score-0 one saying why when grading "
    "fails. See docs/gradescope.md."
)
_EXIT_CODES = """exit codes:
  0    the zip was written (its path is printed)
  2    usage: a bad option
  3    setup: the course spec, a limit, the wheel or the output folder"""


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value: float = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """Add ``gradescope`` (with its tool ``build``) to the subcommands ``sub``; ``parents`` are
    the options every command takes (``-v``)."""
    gradescope = sub.add_parser(
        "gradescope",
        help="Gradescope autograder tools",
        description="Gradescope autograder tools. See docs/gradescope.md.",
        parents=list(parents),
    )
    tools = gradescope.add_subparsers(dest="tool", required=True, metavar="TOOL")
    build = tools.add_parser(
        "build",
        help="write the autograder zip for Gradescope",
        description=textwrap.fill(_BUILD, 79),
        epilog=_EXIT_CODES,
        parents=list(parents),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--assignment", required=True, help="course spec id (see `nngrader "
                       "list`), id@offering, or a spec .toml file (put into the zip)")  # fmt: skip
    build.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="where to write nngrader-gradescope-<assignment>.zip")  # fmt: skip
    build.add_argument("--sandbox", choices=CHOICES, default="fallback",
                       help="fallback (default): bubblewrap where it works in Gradescope's "
                       "container, else process mode, and the report says which; bwrap: "
                       "bubblewrap or a score-0 result naming the problem; process: never "
                       "namespaces")  # fmt: skip
    build.add_argument("--wheel", type=Path, metavar="FILE", help="an nngrader wheel to put in "
                       "(default: built from this source tree with pip)")  # fmt: skip
    limits = build.add_argument_group(
        "limits", "override the course spec's [limits] and the defaults; --submission-timeout "
        "is at most 480 s unless given, inside Gradescope's default 10-minute timeout"
    )  # fmt: skip
    for field, info in limit_fields():
        kind = int if field.type in ("int", int) and info.unit == 1 else float
        limits.add_argument(info.option, dest=field.name, type=_positive(kind), default=None,
                            metavar=info.metavar, help=info.help)  # fmt: skip
    build.set_defaults(func=_cmd_build)


def _cmd_build(args: argparse.Namespace) -> int:
    """Exit 0: the zip was written (a ``GraderError`` is exit 3, from ``grader.cli.main``)."""
    from grader.gradescope.bundle import build_bundle

    limits: dict[str, float] = {}
    for field, info in limit_fields():
        value = getattr(args, field.name)
        if value is not None:
            limits[field.name] = int(value * info.unit) if info.unit != 1 else value
    if args.wheel is None:
        print("building the nngrader wheel from this tree (pip wheel)...", file=sys.stderr)
    path = build_bundle(
        assignment=args.assignment,
        out=args.out,
        sandbox=args.sandbox,
        limits=limits,
        wheel=args.wheel,
    )
    print(f"wrote {path}: upload it on Gradescope's Configure Autograder page")
    return 0
