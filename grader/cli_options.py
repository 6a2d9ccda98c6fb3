"""The options of the commands that grade (``grade``, ``check``), and reading them back.

``grader.cli`` builds each command's parser; the options shared by the grading commands (the
course, the sandbox and its limits, the data, notebook execution, the CI reports), those of a
batch (workers, executor, resuming) and ``check``'s grading on a service (``--remote``) are
declared here, with the functions that turn parsed arguments into ``grader.api``'s keyword
arguments.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.kit.installed import default_assignment, default_sandbox
from grader.sandbox.limits import limit_fields

if TYPE_CHECKING:
    from grader.notebooks.run import ExecuteOptions

__all__ = ["batch_options", "execute_given", "executor_given", "executor_options", "limits_given",
           "positive", "remote_options", "sandbox_options"]  # fmt: skip


def positive(kind: type) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` above zero."""

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


def limits_given(args: argparse.Namespace) -> dict[str, float]:
    """Limits given on the command line, by ``Limits`` field name in the field's units (they
    override the spec's and the defaults)."""
    out: dict[str, float] = {}
    for field, info in limit_fields():
        value = getattr(args, field.name)
        if value is not None:
            out[field.name] = int(value * info.unit) if info.unit != 1 else value
    return out


def execute_given(args: argparse.Namespace) -> ExecuteOptions | None:
    """``--execute`` and its budgets, or None."""
    from grader.notebooks.run import ExecuteOptions

    if not args.execute:
        return None
    return ExecuteOptions(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout)


def executor_given(args: argparse.Namespace) -> str | None:
    """``--executor``; ``dask`` when only ``--scheduler`` is given; None when they disagree."""
    if args.scheduler is not None:
        return None if args.executor == "local" else "dask"
    return str(args.executor or "local")


def sandbox_options(p: argparse.ArgumentParser) -> None:
    """The options of a command that runs student code (``grade``, ``check``)."""
    p.add_argument("--assignment", default=default_assignment(),
                   help="course spec id (see `nngrader list`), id@offering, or a .toml path; "
                   "detected from the files when omitted (a student kit: its course)")  # fmt: skip
    p.add_argument("--sandbox", choices=("auto", "best", "bwrap", "process"),
                   default=default_sandbox(),
                   help="isolation: auto (the default) uses bubblewrap and refuses to run "
                   "without it; 'process' runs without namespaces and every report says so; "
                   "'best' (a student kit's default) uses bubblewrap where it works, else "
                   "'process', and the report says so")  # fmt: skip
    p.add_argument("--data", type=Path, help="CIFAR-10 python batches for the accuracy rules "
                   "(default $NNGRADER_DATA; neither: accuracy is not graded)")  # fmt: skip
    p.add_argument("--execute", action="store_true", help="also execute the spec's notebooks "
                   "in the sandbox (nbclient; only --data's training batches reach them); the "
                   "executed notebooks are kept as .ipynb and HTML")  # fmt: skip
    p.add_argument("--cell-timeout", type=positive(float), default=600.0, metavar="S",
                   help="with --execute: seconds per cell (then interrupted)")  # fmt: skip
    p.add_argument("--notebook-timeout", type=positive(float), default=3600.0, metavar="S",
                   help="with --execute: seconds per notebook (then it is killed)")  # fmt: skip
    p.add_argument("--junit", type=Path, metavar="FILE",
                   help="also write the results as JUnit XML (CI test reports)")  # fmt: skip
    p.add_argument("--summary", type=Path, metavar="FILE", help="also write a Markdown "
                   "summary (appended to $GITHUB_STEP_SUMMARY too, if set)")  # fmt: skip
    limits = p.add_argument_group(
        "limits", "override the course spec's [limits] and the defaults (grader.sandbox.Limits)"
    )
    for field, info in limit_fields():
        # An option in larger units than its field (MiB of bytes) takes fractions.
        kind = int if field.type in ("int", int) and info.unit == 1 else float
        limits.add_argument(info.option, dest=field.name, type=positive(kind), default=None,
                            metavar=info.metavar, help=info.help)  # fmt: skip


def batch_options(p: argparse.ArgumentParser) -> None:
    """The options of ``grade``'s batch: how many workers, where they run, what is regraded."""
    p.add_argument("--jobs", type=positive(int), default=1, metavar="N",
                   help="submissions graded in parallel: worker processes, or the workers of "
                   "the local Dask cluster (default 1)")  # fmt: skip
    executor_options(p)
    p.add_argument("--regrade", action="store_true", help="grade every submission again, also "
                   "those that OUT's results store holds finished for the same files and "
                   "settings")  # fmt: skip


def executor_options(p: argparse.ArgumentParser) -> None:
    """Where submissions are graded (``grade``'s batch, ``serve``'s jobs): ``--executor``,
    ``--scheduler``; read back with ``executor_given``."""
    from grader.executors import EXECUTORS

    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="local: worker processes on this machine (default); dask: a Dask "
                   "cluster, --scheduler's or a local one (docs/scale-out.md)")  # fmt: skip
    p.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler to grade on "
                   "(tcp://HOST:PORT; implies --executor dask)")  # fmt: skip


def remote_options(p: argparse.ArgumentParser) -> None:
    """``check --remote``: grade on a service (``grader.service.remote``) instead of here."""
    p.add_argument("--remote", metavar="URL", help="have the grading service at URL grade the "
                   "submission (needs --assignment; docs/service.md)")  # fmt: skip
    p.add_argument("--token", metavar="T", default=os.environ.get("NNGRADER_TOKEN"),
                   help="with --remote: your token (default $NNGRADER_TOKEN; none: an "
                   "anonymous self-check)")  # fmt: skip
    p.add_argument("--wait", type=positive(float), default=1800.0, metavar="S",
                   help="with --remote: seconds to wait for its grade (default 1800)")  # fmt: skip
