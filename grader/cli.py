"""``nngrader`` command line: parses arguments and calls ``grader.api``; nothing else.

Exit codes: 0 success (``grade``: every submission graded and written, whatever the scores),
1 checks failed (``check``: a check worth points failed; ``selftest``) or results not written
(``grade``: some submission's files could not be written; the others were), 2 usage error,
3 spec or grader error.

Whatever the terminal's encoding, nothing printed stops a run: a character it cannot show is
written as an escape (``\\u2215``), and student-named text is shown through
``grader.report.terminal``, which escapes what could move the cursor or forge a line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__
from grader.sandbox.limits import limit_fields

if TYPE_CHECKING:
    from grader.notebooks.run import ExecuteOptions


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


def _execute(args: argparse.Namespace) -> ExecuteOptions | None:
    """``--execute`` and its budgets, or None."""
    from grader.notebooks.run import ExecuteOptions

    if not args.execute:
        return None
    return ExecuteOptions(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout)


def _cmd_grade(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.names import shown
    from grader.report.terminal import one_line
    from grader.results import SubmissionResult

    def show(result: SubmissionResult, path: Path) -> None:
        where = f"NOT WRITTEN ({result.unwritten})" if result.unwritten else f"-> {path}"
        print(f"{one_line(result)}  {where}", flush=True)

    results = api.grade(
        args.paths,
        out=args.out,
        assignment=args.assignment,
        jobs=args.jobs,
        sandbox=args.sandbox,
        limits=_limits(args),
        on_result=show,
        data=args.data,
        execute=_execute(args),
    )
    print(f"graded {len(results)} submission(s); results in {args.out}/")
    unwritten = [r for r in results if r.unwritten]
    if unwritten:
        print(f"{len(unwritten)} submission(s) graded but NOT WRITTEN:")
        for result in unwritten:
            print(f"  {shown(result.name)}: {result.unwritten}")
    return 1 if unwritten else 0


def _cmd_check(args: argparse.Namespace) -> int:
    from grader import api
    from grader.report.terminal import check_table

    result = api.check(
        args.path,
        assignment=args.assignment,
        sandbox=args.sandbox,
        limits=_limits(args),
        data=args.data,
        execute=_execute(args),
    )
    print(check_table(result))
    # Informative checks and checks worth no points never fail the command.
    counting = [c for c in result.checks if c.counts and c.max_score > 0]
    return 0 if not result.error and all(c.status == "passed" for c in counting) else 1


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """Exit 0: evaluated; 1: the model was rejected; 2: no data or no accuracy rule."""
    import json

    from grader import api
    from grader.errors import GraderError, SpecError

    try:
        result = api.evaluate(args.model, assignment=args.assignment, data=args.data)
    except SpecError:
        raise
    except GraderError as exc:
        print(f"nngrader evaluate: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_json(), allow_nan=False))
    elif result.error:
        print(result.error)
    else:
        val, test = result.val_accuracy or 0.0, result.test_accuracy or 0.0
        print(f"validation accuracy {val:.2%}, test accuracy {test:.2%}")
        print(result.formula)
    return 1 if result.error else 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every file is the official one, 1 otherwise."""
    from grader.accuracy.data import resolve, verify

    folder = resolve(args.dir) or args.dir
    found = verify(folder)
    for name, state in found.items():
        print(f"{name:<14} {state}")
    differ = [n for n, state in found.items() if state != "ok"]
    verdict = f"{len(differ)} file(s) differ from the official CIFAR-10: {', '.join(differ)}"
    print(f"{folder}: {verdict if differ else 'the official CIFAR-10 files'}")
    return 1 if differ else 0


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
        p.add_argument(
            "--data",
            type=Path,
            help="CIFAR-10 python batches for the accuracy rules (default $NNGRADER_DATA; "
            "neither: accuracy is not graded)",
        )
        p.add_argument(
            "--execute",
            action="store_true",
            help="also execute the spec's notebooks in the sandbox (nbclient; only --data's "
            "training batches reach them); the executed notebooks are kept as .ipynb and HTML",
        )
        p.add_argument(
            "--cell-timeout", type=_positive(float), default=600.0, metavar="S",
            help="with --execute: seconds per notebook cell (then it is interrupted)",
        )  # fmt: skip
        p.add_argument(
            "--notebook-timeout", type=_positive(float), default=3600.0, metavar="S",
            help="with --execute: seconds per notebook (then its kernel is killed)",
        )  # fmt: skip
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

    e = sub.add_parser("evaluate", help="measure one model file (best_model.npz) on CIFAR-10")
    e.add_argument("model", type=Path, help="the model file (nngrader .npz format)")
    e.add_argument("--assignment", required=True, help="course spec id (its [final_accuracy])")
    e.add_argument("--data", type=Path, help="CIFAR-10 python batches (default $NNGRADER_DATA)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=_cmd_evaluate)

    d = sub.add_parser("data", help="CIFAR-10 data tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dv = dsub.add_parser("verify", help="compare the batches with the official files' MD5s")
    dv.add_argument("dir", type=Path)
    dv.set_defaults(func=_cmd_data_verify)

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


def _never_fail_to_print() -> None:
    """Escape what the terminal's encoding cannot show (an ASCII or strict UTF-8 locale, a name
    that is not UTF-8), instead of stopping the run with ``UnicodeEncodeError``."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    from grader.errors import GraderError

    _never_fail_to_print()
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
