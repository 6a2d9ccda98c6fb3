"""``nngrader`` command line: parses arguments and calls ``grader.api``; nothing else.

Exit codes (also in ``nngrader grade --help`` and the README): 0 success (``grade``: every
submission got a results.json, whatever its score; ``check``: every check worth points passed),
1 some submission's results could not be written (``grade``) or a check worth points failed
(``check``, ``selftest``), 2 usage (a bad option, a path that does not exist), 3 setup
(``GraderError``: a spec, the sandbox, the data, an output file), 130 interrupted (Ctrl-C).

Whatever the terminal's encoding, nothing printed stops a run: a character it cannot show is
written as an escape (``\\u2215``), and student-named text is shown through
``grader.report.terminal``, which escapes what could move the cursor or forge a line. Results
and summaries go to stdout, progress and errors to stderr.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.cli_options import batch_options, executor_given, remote_options, sandbox_options
from grader.cli_options import execute_given as _execute
from grader.cli_options import limits_given as _limits
from grader.gradescope.cli import add_parser as add_gradescope
from grader.kit.cli import add_parser as add_kit
from grader.service.cli import add_parser as add_serve

if TYPE_CHECKING:
    from grader.results import SubmissionResult

INTERRUPTED = 130
"""Exit code after Ctrl-C, as a shell reports a process that SIGINT ended (128 + 2)."""
EXIT_CODES = {
    "grade": """
  0    every submission got a results.json, whatever its score (a broken or refused
       submission gets score 0 and its error)
  1    some submission's results could not be written (its line says NOT WRITTEN)
  2    usage: a bad option, or a PATH that does not exist
  3    setup: a course spec, the sandbox, --data, the output folder or a report file
  130  interrupted (Ctrl-C): what finished is written, the summary names the rest""",
    "check": """
  0    every check worth points passed
  1    a check worth points failed, or the submission could not be graded
  2    usage: a bad option, or a PATH that does not exist
  3    setup: a course spec, the sandbox, --data or a report file
  130  interrupted (Ctrl-C)""",
    "report": """
  0    every submission's views were re-rendered
  2    usage: DIR is not a folder
  3    DIR holds no results, or some could not be read or written (each is named)""",
}
"""Each command's exit codes, as its ``--help`` ends."""
DESCRIPTION = (
    "Grade CS231n-style numpy deep-learning assignments: batches of submissions for "
    "instructors, one submission's public checks for students and CI."
)
COMMANDS = {
    "grade": ("grade submissions into OUT/<folder>/results.json", "Folders, zips, LMS exports "
              "(a folder or zip per student) and git checkouts: a line per submission, progress "
              "on stderr, a summary, and the class overview (OUT/index.html, OUT/grades.csv). "
              "Ctrl-C stops cleanly and keeps what finished."),
    "check": ("run the public checks on one submission and print a table", "What students and "
              "CI run: says what is wrong (worst element, index, both values, threshold); --format "
              "prints JSON, JUnit XML or GitHub Actions annotations instead."),
    "report": ("re-render every view of a graded folder without regrading", "Reads DIR's "
               "results store (DIR/.nngrader.sqlite, else each DIR/<folder>/instructor.json), "
               "written by `nngrader grade`, and writes every report and the class overview "
               "again; no student code runs."),
    "evaluate": ("measure one model file (best_model.npz) on CIFAR-10",
                 "Exit 0 evaluated, 1 rejected (with the reason), 2 usage."),
    "data": ("CIFAR-10 data tools", ""),
    "verify": ("compare the CIFAR-10 batches with the official files' MD5s",
               "Exit 0 when every file is the official one, 1 otherwise."),
    "list": ("list the course variants, their parts and offerings", ""),
    "spec": ("course spec tools", ""),
    "validate": ("validate course spec files", "Each error names the file, key and problem."),
    "selftest": ("check the reference against the notebook fixtures it must reproduce", ""),
}  # fmt: skip
"""Each command's one-line summary (``nngrader --help``) and what its own ``--help`` adds."""
CHECK_FORMATS = ("table", "json", "junit", "github")
"""``check --format``: what it prints on stdout."""


def _existing(text: str) -> Path:
    """A path that exists: a missing one is a usage error, never graded as a fake student."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file or folder: {text!r}")
    return Path(text)


def _folder(text: str) -> Path:
    """A folder that exists (``report DIR``: a missing or mistyped one is a usage error)."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"not a folder: {text!r}")
    return Path(text)


def _cmd_grade(args: argparse.Namespace) -> int:
    """Exit 0: every submission written; 1: some not written; 130: Ctrl-C."""
    from grader import api
    from grader.report.names import shown
    from grader.report.progress import Progress, summary
    from grader.report.terminal import one_line

    executor = executor_given(args)
    if executor is None:
        print("nngrader grade: error: --scheduler needs --executor dask", file=sys.stderr)
        return 2
    with Progress() as progress:

        def show(result: SubmissionResult, path: Path) -> None:
            where = f"NOT WRITTEN ({result.unwritten})" if result.unwritten else f"-> {path}"
            progress.echo(f"{one_line(result)}  {where}")
            progress.finished(result.name)

        def resumed(kept: int, todo: int) -> None:
            if kept:
                print(f"{kept} submission(s) keep their results from an earlier run into "
                      f"{args.out} (--regrade grades them again); {todo} to grade",
                      file=sys.stderr, flush=True)  # fmt: skip

        not_graded: list[str] = []
        try:
            results = api.grade(
                args.paths,
                out=args.out,
                assignment=args.assignment,
                jobs=args.jobs,
                sandbox=args.sandbox,
                limits=_limits(args),
                on_result=show,
                on_start=progress.started,
                data=args.data,
                execute=_execute(args),
                regrade=args.regrade,
                executor=executor,
                scheduler=args.scheduler,
                on_resume=resumed,
            )
        except api.GradingInterrupted as stopped:
            results, not_graded = stopped.results, stopped.not_graded
        seconds = progress.elapsed
    print("\n".join(summary(results, seconds, not_graded)))
    unwritten = [r for r in results if r.unwritten]
    if unwritten:
        print(f"{len(unwritten)} submission(s) graded but NOT WRITTEN:")
        for result in unwritten:
            print(f"  {shown(result.name)}: {result.unwritten}")
    api.write_reports(results, junit=args.junit, summary=args.summary)
    print(_where(args.out))
    if not_graded:
        return INTERRUPTED
    return 1 if unwritten else 0


def _cmd_check(args: argparse.Namespace) -> int:
    """Exit 0: every check worth points passed; 1 otherwise (whatever ``--format``)."""
    from grader import api

    if args.remote:  # graded by a service (grader/service/remote.py), printed as here
        if not args.assignment:
            print("nngrader check: error: --remote needs --assignment", file=sys.stderr)
            return 2
        from grader.service.remote import check_remote

        echo = functools.partial(print, file=sys.stderr)
        result = check_remote(args.remote, args.token, args.assignment, args.path,
                              wait=args.wait, echo=echo)  # fmt: skip
    else:
        result = api.check(args.path, assignment=args.assignment, sandbox=args.sandbox,
                           limits=_limits(args), data=args.data,
                           execute=_execute(args))  # fmt: skip
    sys.stdout.write(_check_output(result, args))
    github = args.format == "github"  # also fills the run page's summary, when there is one
    api.write_reports([result], junit=args.junit, summary=args.summary, step_summary=github)
    # Informative checks and checks worth no points never fail the command.
    counting = [c for c in result.checks if c.counts and c.max_score > 0]
    return 0 if not result.error and all(c.status == "passed" for c in counting) else 1


def _check_output(result: SubmissionResult, args: argparse.Namespace) -> str:
    """What ``check --format`` prints: the table, results.json's document, the JUnit XML of
    ``--junit``, or GitHub's workflow commands (``grader.report.github``)."""
    if args.format == "json":
        from grader.report.gradescope import to_gradescope
        from grader.report.render import json_text

        return json_text(to_gradescope(result), indent=2)
    if args.format == "junit":
        from grader.report.junit import junit_xml

        return junit_xml([result])
    if args.format == "github":
        from grader.report.github import annotations, function_locations

        where = function_locations(result, args.path, args.assignment or result.assignment)
        return annotations(result, functions=where)
    from grader.report.terminal import check_table, use_color

    return check_table(result, color=use_color(sys.stdout)) + "\n"


def _cmd_report(args: argparse.Namespace) -> int:
    """Exit 0: every view re-rendered (a result that could not be is a GraderError: 3)."""
    from grader.report.rerender import rerender

    results = rerender(args.dir, release=args.release)
    released = " (released: the checks withheld until release are shown)" if args.release else ""
    print(f"re-rendered {len(results)} submission(s){released}")
    print(_where(args.dir))
    return 0


def _where(out: Path) -> str:
    """The last line of ``grade`` and ``report``: where the results and the overview are."""
    from grader.report.class_views import INDEX

    index = out / INDEX
    overview = f"; open {index} for the class overview" if index.is_file() else ""
    return f"results in {out}{os.sep}{overview}"


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
    # -v works anywhere on the line: every (sub)parser takes it. A subcommand's count goes to a
    # dest of its own (argparse would overwrite the top level's with it); main adds the two.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", dest="verbose_after", action="count",
                        default=argparse.SUPPRESS, help="more logging (-vv for debug)")  # fmt: skip
    parser = argparse.ArgumentParser(prog="nngrader", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"nngrader {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-vv for debug)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: Any, name: str, func: Callable[[argparse.Namespace], int] | None = None,
                ) -> argparse.ArgumentParser:  # fmt: skip
        summary, more = COMMANDS[name]
        codes, text = EXIT_CODES.get(name), f"{summary[0].upper()}{summary[1:]}. {more}"
        p: argparse.ArgumentParser = parent.add_parser(
            name, help=summary, description=textwrap.fill(text.strip(), 79), parents=[common],
            epilog=f"exit codes:{codes}" if codes else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,  # the exit codes' table
        )  # fmt: skip
        if func is not None:
            p.set_defaults(func=func)
        return p

    g = command(sub, "grade", _cmd_grade)
    g.add_argument("paths", nargs="+", type=_existing, metavar="PATH", help="what to grade")
    g.add_argument("--out", type=Path, required=True, help="output directory")
    batch_options(g)  # --jobs, --executor, --scheduler, --regrade
    sandbox_options(g)
    c = command(sub, "check", _cmd_check)
    c.add_argument("path", nargs="?", type=_existing, default=Path("."), metavar="PATH",
                   help="submission folder or zip (default: the current folder)")  # fmt: skip
    c.add_argument("--format", choices=CHECK_FORMATS, default="table",
                   help="what to print: the table (default), json (results.json's document), "
                   "junit (JUnit XML) or github (GitHub Actions annotations; the Markdown "
                   "summary is appended to $GITHUB_STEP_SUMMARY, if set)")  # fmt: skip
    sandbox_options(c)
    remote_options(c)  # --remote, --token, --wait
    r = command(sub, "report", _cmd_report)
    r.add_argument("dir", type=_folder, metavar="DIR", help="the --out folder of a grading run")
    r.add_argument("--release", action="store_true", help="show students the checks withheld "
                   "until release (due date, published, hidden)")  # fmt: skip
    e = command(sub, "evaluate", _cmd_evaluate)
    e.add_argument("model", type=Path, help="the model file (nngrader .npz format)")
    e.add_argument("--assignment", required=True, help="course spec id (its [final_accuracy])")
    e.add_argument("--data", type=Path, help="CIFAR-10 python batches (default $NNGRADER_DATA)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    data = command(sub, "data").add_subparsers(dest="tool", required=True, metavar="TOOL")
    verify = command(data, "verify", _cmd_data_verify)
    verify.add_argument("dir", type=Path, metavar="DIR", help="the cifar-10-batches-py folder")
    command(sub, "list", _cmd_list)
    spec = command(sub, "spec").add_subparsers(dest="tool", required=True, metavar="TOOL")
    validate = command(spec, "validate", _cmd_spec_validate)
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE", help="spec (.toml)")
    command(sub, "selftest", _cmd_selftest)
    add_gradescope(sub, parents=[common])  # grader/gradescope/cli.py
    add_kit(sub, parents=[common])  # grader/kit/cli.py
    add_serve(sub, parents=[common])  # grader/service/cli.py
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
    try:
        args = build_parser().parse_args(argv)
        verbosity = args.verbose + getattr(args, "verbose_after", 0)
        logging.basicConfig(
            level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)],
            format="%(levelname)s %(name)s: %(message)s",
        )
        return int(args.func(args))
    except GraderError as exc:
        print(f"nngrader: error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        # The commands that run student code tear their sandboxes down on the way here.
        print("nngrader: interrupted", file=sys.stderr)
        return INTERRUPTED
