"""Progress of a batch on the terminal, and its summary.

A class of 300 submissions grades for an hour: the instructor wants to see that it moves, how
far it is, when it will end and which submission it is on. On a terminal (stderr is a TTY) that
is a tqdm bar (``i/N``, elapsed, ETA, the names being graded); in a log (CI, ``2> file``) a bar's
carriage returns would be noise, so each finished submission gets one plain line instead.
Progress goes to stderr; the per-submission result lines and the summary go to stdout, so
``nngrader grade ... > grades.txt`` keeps the results and nothing else.

The formatting is pure functions of numbers and results (``clock``, ``eta``, ``plain_line``,
``summary``), so tests need no clock and no terminal. Names are shown through
``grader.report.names.shown``: a student's folder name never moves the cursor.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs among the dependencies

from grader import sanitize
from grader.report.names import shown
from grader.results import SubmissionResult

__all__ = ["Progress", "clock", "eta", "plain_line", "summary"]


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (what people read on a stopwatch)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the mean pace so far; None before anything finished."""
    if done <= 0:
        return None
    return elapsed / done * max(0, total - done)


def plain_line(done: int, total: int, elapsed: float, name: str, running: Sequence[str]) -> str:
    """The line a log gets when submission ``name`` finished: ``[i/N] elapsed, ETA, names``.

    ``running`` are the submissions still being graded (shown, so a hung one is visible).
    """
    left = eta(done, total, elapsed)
    line = (
        f"[{done}/{total}] {clock(elapsed)} elapsed, "
        f"ETA {clock(left) if left is not None else '?'}: finished {shown(name)}"
    )
    if running:
        line += "; grading " + ", ".join(map(shown, running))
    return line


def summary(
    results: Sequence[SubmissionResult], seconds: float, not_graded: Sequence[str] = ()
) -> list[str]:
    """The end of a batch: how many were graded or errored (with each error), the mean score,
    the time, and (after Ctrl-C) which submissions were not graded.

    An errored submission (``error`` set: broken zip, refused, nothing to grade) counts in the
    mean with its score, 0, since that is the grade it got. The mean is shown out of the maximum
    when every graded submission has the same one (one course), else as points only.
    """
    errored = [r for r in results if r.error]
    head = (
        f"{len(results)} submission(s) in {clock(seconds)}: "
        f"{len(results) - len(errored)} graded, {len(errored)} errored"
    )
    if results:
        mean = sum(r.score for r in results) / len(results)
        maxima = {r.max_score for r in results if r.max_score > 0}
        head += f", mean score {mean:.1f}" + (f"/{maxima.pop():g}" if len(maxima) == 1 else "")
    lines = [head]
    if errored:
        lines.append("errored (score 0):")
        lines.extend(f"  {shown(r.name)}: {sanitize.text(r.error or '')}" for r in errored)
    if not_graded:
        lines.append(
            f"interrupted: {len(not_graded)} submission(s) not graded: "
            + ", ".join(map(shown, not_graded))
        )
    return lines


class Progress:
    """Reports a batch as it goes: ``started`` and ``finished`` per submission, ``echo`` for the
    result lines (printed above a bar so that the bar is not torn), ``close`` at the end."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        out: TextIO | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """A reporter whose clock starts now.

        Args:
            stream: where progress goes (default stderr).
            tty: draw a bar (default: whether ``stream`` is a TTY).
            out: where ``echo`` prints result lines (default stdout).
            now: the clock (tests pass their own).
        """
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._now = now
        self.start = now()
        self.total = 0
        self.done = 0
        self.running: list[str] = []
        self._bar: Any = None  # a tqdm bar once the first submission starts (TTY only)

    @property
    def elapsed(self) -> float:
        """Seconds since the reporter was made (the batch's start, intake included)."""
        return self._now() - self.start

    def started(self, name: str, total: int) -> None:
        """Submission ``name`` of a batch of ``total`` is being graded."""
        self.total = total
        self.running.append(name)
        if self.tty:
            if self._bar is None:
                self._bar = tqdm(
                    total=total, file=self.stream, unit="sub", desc="grading", leave=False,
                    dynamic_ncols=True,
                )  # fmt: skip
            self._show_running()

    def finished(self, name: str) -> None:
        """Submission ``name`` finished (written or not)."""
        if name in self.running:
            self.running.remove(name)
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            self._show_running()
        elif not self.tty:
            line = plain_line(self.done, self.total, self.elapsed, name, self.running)
            print(line, file=self.stream, flush=True)

    def echo(self, line: str) -> None:
        """Print a result line on ``out`` (above the bar, which is redrawn below it)."""
        if self._bar is not None:
            tqdm.write(line, file=self.out)
        else:
            print(line, file=self.out, flush=True)

    def close(self) -> None:
        """Remove the bar (the summary follows); idempotent."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show_running(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(", ".join(map(shown, self.running)), refresh=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
