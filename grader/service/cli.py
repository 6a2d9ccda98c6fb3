"""``nngrader serve``: run the grading service (uvicorn), or make a token for its config.

Registered by ``grader.cli`` through ``add_parser``, as ``kit`` is. FastAPI and uvicorn are
imported only when the command runs (the ``service`` extra). Exit codes as everywhere: 0 the
service stopped (Ctrl-C) or the token was printed, 2 usage, 3 setup (``GraderError``: the
configuration, the database, the sandbox, the extra not installed).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from grader.cli_options import executor_given, executor_options
from grader.errors import GraderError

__all__ = ["add_parser"]

_SERVE = (
    "Run the grading service: an HTTP API (OpenAPI at /openapi.json) where students submit a "
    "file and follow its job, and instructors (a course token) upload class exports and read "
    "every result. Jobs live in a results store (--db, SQLite, as a batch's); each grading "
    "runs in a child process in the sandbox, or as a task on a Dask cluster (--executor "
    "dask). With --make-token, print a new token for the configuration file instead. See "
    "docs/service.md."
)


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """Add ``serve`` to the subcommands ``sub``; ``parents`` are every command's options."""
    serve = sub.add_parser(
        "serve",
        help="run the grading service (HTTP API)",
        description=textwrap.fill(_SERVE, 79),
        parents=list(parents),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--db", type=Path, default=Path("nngrader-service.sqlite"), metavar="PATH",
                       help="the results store of its jobs (a batch's OUT/.nngrader.sqlite too); "
                       "uploads are kept in PATH.files/")  # fmt: skip
    serve.add_argument("--config", type=Path, metavar="FILE",
                       help="courses, tokens and limits (TOML; docs/service.md)")  # fmt: skip
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="gradings at a time (--executor dask without --scheduler: the "
                       "local cluster's workers too)")  # fmt: skip
    serve.add_argument("--sandbox", choices=("auto", "bwrap", "process"), default="auto",
                       help="isolation of student code (process: trusted code only)")  # fmt: skip
    executor_options(serve)  # --executor, --scheduler
    serve.add_argument("--make-token", action="store_true",
                       help="print a new token for --course (and --student) and exit")  # fmt: skip
    serve.add_argument("--course", metavar="ID", help="with --make-token")
    serve.add_argument("--student", metavar="NAME", help="with --make-token: a student's token")
    serve.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.make_token:
        if not args.course:
            print("nngrader serve: error: --make-token needs --course", file=sys.stderr)
            return 2
        print(_token_lines(args.course, args.student))
        return 0
    if args.workers < 1:
        print("nngrader serve: error: --workers must be at least 1", file=sys.stderr)
        return 2
    executor = executor_given(args)
    if executor is None:
        print("nngrader serve: error: --scheduler needs --executor dask", file=sys.stderr)
        return 2
    try:
        import uvicorn

        from grader.service.app import create_app
        from grader.service.server import uvicorn_options
    except ImportError as exc:
        raise GraderError(f"nngrader serve needs pip install 'nngrader[service]' ({exc})") from exc
    from grader.sandbox import resolve_mode
    from grader.service.config import Settings, load_config

    if args.scheduler is None:  # refuse now, not at the first submission (a cluster's workers
        resolve_mode(args.sandbox)  # are checked when the service starts)
    settings = Settings(
        db=args.db, config=load_config(args.config), workers=args.workers, sandbox=args.sandbox,
        executor=executor, scheduler=args.scheduler,
    )  # fmt: skip
    options = uvicorn_options(settings.config.limits)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, **options)
    return 0


def _token_lines(course: str, student: str | None) -> str:
    """A new token, and the line that gives it in the configuration file (its hash only)."""
    from grader.service.config import hash_token, new_token

    token = new_token()
    key = f"students.{student}" if student else "token"
    return (
        f"token (give it to {'the student' if student else 'the instructor'}; it is shown "
        f"once): {token}\n"
        f'configuration ([courses.{course}]): {key} = "{hash_token(token)}"'
    )
