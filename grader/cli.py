"""``nngrader`` command line: parses arguments and calls ``grader.api``; nothing else.

Exit codes: 0 success (``grade``: every submission graded, whatever the scores), 1 checks failed
(``check``: a check worth points failed; ``selftest``), 2 usage error, 3 spec or grader error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grader import __version__
from grader.sandbox.limits import limit_fields


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value  # type: ignore[no-any-return]

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _limits(args: argparse.Namespace) -> dict[str, float]:
    """Limits given on the command line, by ``Limits`` field name in the field's units (they
    override the spec's and the defaults)."""
    out: dict[str, float] = {}
    for field, info in limit_fields():
        value = getattr(args, field.name)
        if value is not None:
            out[field.name] = int(value * info.unit) if info.unit != 1 else value
    return out


def _cmd_grade(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.terminal import one_line
    from grader.results import SubmissionResult

    def show(result: SubmissionResult, path: Path) -> None:
        print(f"{one_line(result)}  -> {path}", flush=True)

    results = api.grade(
        args.paths,
        out=args.out,
        assignment=args.assignment,
        jobs=args.jobs,
        sandbox=args.sandbox,
        limits=_limits(args),
        on_result=show,
    )
    print(f"graded {len(results)} submission(s); results in {args.out}/")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.terminal import check_table

    result = api.check(
        args.path, assignment=args.assignment, sandbox=args.sandbox, limits=_limits(args)
    )
    print(check_table(result))
    # Informative checks and checks worth no points never fail the command.
    counting = [c for c in result.checks if c.counts and c.max_score > 0]
    return 0 if not result.error and all(c.status == "passed" for c in counting) else 1


def _cmd_list(args: argparse.Namespace) -> int:
    from grader import api

    for spec in api.available_specs().values():
        print(f"{spec.id:<20} {spec.title}")
        for part in spec.parts:
            checks = [c for c in spec.checks if c.part == part.id]
            points = sum(c.points for c in checks if c.award != "informative")
            print(f"    {part.id:<16} {part.title}  ({len(checks)} checks, {points:g} points)")
        for offering in spec.offerings:
            print(f"    offering {spec.id}@{offering}")
    return 0


def _cmd_spec_validate(args: argparse.Namespace) -> int:
    from grader.spec import load_spec

    for path in args.files:
        spec = load_spec(path)
        print(f"{path}: ok ({spec.id}, {len(spec.checks)} checks, {len(spec.parts)} parts)")
    return 0


def _cmd_selftest(args: argparse.Namespace) -> int:
    from grader.selftest import selftest

    return selftest(sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nngrader", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"nngrader {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def sandbox_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--assignment",
            help="course spec id (see `nngrader list`), id@offering, or a .toml path; "
            "detected from the files when omitted",
        )
        p.add_argument(
            "--sandbox",
            choices=("auto", "bwrap", "process"),
            default="auto",
            help="isolation: auto uses bubblewrap and refuses to run without it; "
            "'process' runs without namespaces and every report says so",
        )
        limits = p.add_argument_group(
            "limits", "override the course spec's [limits] and the defaults (grader.sandbox.Limits)"
        )
        for field, info in limit_fields():
            # An option in larger units than its field (MiB of bytes) takes fractions.
            kind = int if field.type in ("int", int) and info.unit == 1 else float
            limits.add_argument(
                info.option,
                dest=field.name,
                type=_positive(kind),
                default=None,
                metavar=info.metavar,
                help=info.help,
            )

    g = sub.add_parser("grade", help="grade submissions into OUT/<name>/results.json")
    g.add_argument("paths", nargs="+", type=Path, help="folders, .zip files or LMS exports")
    g.add_argument("--out", type=Path, required=True, help="output directory")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    sandbox_options(g)
    g.set_defaults(func=_cmd_grade)

    c = sub.add_parser("check", help="run the public checks on one submission and print a table")
    c.add_argument("path", nargs="?", type=Path, default=Path("."), help="submission folder or zip")
    sandbox_options(c)
    c.set_defaults(func=_cmd_check)

    sub.add_parser("list", help="list course variants and their parts").set_defaults(func=_cmd_list)

    s = sub.add_parser("spec", help="course spec tools")
    ssub = s.add_subparsers(dest="spec_command", required=True)
    v = ssub.add_parser("validate", help="validate spec files")
    v.add_argument("files", nargs="+", type=Path)
    v.set_defaults(func=_cmd_spec_validate)

    sub.add_parser("selftest", help="run the reference against its notebook fixtures").set_defaults(
        func=_cmd_selftest
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from grader.errors import GraderError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except GraderError as exc:
        print(f"nngrader: error: {exc}", file=sys.stderr)
        return 3
