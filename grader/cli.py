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


LIMIT_OPTIONS: tuple[tuple[str, type, str, str, int, str], ...] = (
    # option, type, metavar, grader.sandbox.Limits field, unit in the field's terms, help
    ("--timeout", float, "S", "check_seconds", 1, "wall-time limit per check, in seconds"),
    ("--submission-timeout", float, "S", "submission_seconds", 1,
     "wall-time limit of a whole submission, in seconds (later checks are not run)"),
    ("--cpu-seconds", int, "N", "cpu_seconds", 1, "CPU-time limit per process, in seconds"),
    ("--memory-mb", float, "M", "memory_bytes", 2**20, "memory limit of the student's process tree, in MiB"),
    ("--max-processes", int, "N", "max_processes", 1, "processes and threads the student's code may run"),
    ("--max-open-files", int, "N", "max_open_files", 1, "open files per process"),
    ("--max-file-mb", float, "M", "max_file_bytes", 2**20,
     "largest file the student's code may write, printed output included, in MiB"),
    ("--output-kb", float, "K", "output_bytes", 1024, "printed output kept per check, in KiB"),
    ("--threads", int, "N", "threads", 1, "BLAS/OpenMP threads of the student's process"),
)


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


def _overrides(args: argparse.Namespace) -> dict[str, float]:
    """Limits given on the command line (they override the spec's and the defaults)."""
    out: dict[str, float] = {}
    for option, kind, _metavar, field, unit, _help in LIMIT_OPTIONS:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if value is not None:
            out[field] = int(value * unit) if unit != 1 or kind is int else value
    return out


def _cmd_grade(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.terminal import one_line

    def show(result: object, path: Path) -> None:
        print(f"{one_line(result)}  -> {path}", flush=True)  # type: ignore[arg-type]

    results = api.grade(args.paths, out=args.out, assignment=args.assignment, jobs=args.jobs,
                        sandbox=args.sandbox, overrides=_overrides(args), on_result=show)  # type: ignore[arg-type]
    print(f"graded {len(results)} submission(s); results in {args.out}/")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.terminal import check_table

    result = api.check(args.path, assignment=args.assignment, sandbox=args.sandbox, overrides=_overrides(args))
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
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    def sandbox_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--assignment", help="course spec id (see `nngrader list`), id@offering, or a .toml path; "
                       "detected from the files when omitted")
        p.add_argument("--sandbox", choices=("auto", "bwrap", "process"), default="auto",
                       help="isolation: auto uses bubblewrap and refuses to run without it; "
                       "'process' runs without namespaces and every report says so")
        limits = p.add_argument_group("limits", "override the course spec's [limits] and the defaults "
                                      "(grader.sandbox.Limits)")
        for option, kind, metavar, _field, _unit, text in LIMIT_OPTIONS:
            limits.add_argument(option, type=_positive(kind), default=None, metavar=metavar, help=text)

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

    sub.add_parser("selftest", help="run the reference against its notebook fixtures").set_defaults(func=_cmd_selftest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from grader.errors import GraderError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except GraderError as exc:
        print(f"nngrader: error: {exc}", file=sys.stderr)
        return 3
