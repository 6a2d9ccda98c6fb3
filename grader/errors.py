"""Exception taxonomy.

Two families, with two policies:

* ``GraderError`` (and ``SpecError``): the grader itself cannot go on. They abort a run with an
  actionable message (exit code 3).
* ``StudentFailure``: the student's process misbehaved during one request (raised, named
  something it does not define, returned what cannot be graded, hung, died). They never leave
  the check stage: the check that made the request fails with a message, and the batch goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class GraderError(Exception):
    """The grader itself cannot go on (bad installation, sandbox unavailable, bad arguments)."""


class SpecError(GraderError):
    """A course spec is invalid; names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path = Path(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments (it crosses to a batch's parent from a worker process).
        return type(self), (self.path, self.key, self.problem)


class SandboxUnavailable(GraderError):
    """The requested isolation cannot be provided on this machine."""


# -- what a student's process can do wrong --------------------------------------------------------


class NotInKit(GraderError):
    """A student kit's oracle was asked about inputs it holds no answer for: values made by the
    student's code on a path no public check took while the kit was built
    (``grader.kit.tables``). The check is the instructor's to grade, not a failure."""


class StudentFailure(Exception):
    """Base of everything the student's process did wrong during one request."""


class StudentRaised(StudentFailure):
    """The student's code raised an exception.

    ``type``, ``detail`` and ``traceback`` are the child's account of it (student-controlled
    text). ``limit`` names the sandbox limit the exception came from (a write past the file size
    limit, too many open files), when it did; the message then ends with it.
    """

    def __init__(self, error: Mapping[str, Any], limit: str | None = None) -> None:
        self.type = str(error.get("type", "Exception"))
        self.detail = str(error.get("message", ""))
        self.traceback = str(error.get("traceback", ""))
        self.limit = limit
        text = f"{self.type}: {self.detail}" if self.detail else self.type
        super().__init__(f"{text}: {limit}" if limit else text)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments, as SpecError.
        account = {"type": self.type, "message": self.detail, "traceback": self.traceback}
        return type(self), (account, self.limit)


class StudentMissing(StudentRaised):
    """A function, class or attribute the check looks for is not defined by the student's module."""


class StudentUngradable(StudentRaised):
    """The student's code returned something the protocol cannot carry (an object, a string...)."""


class StudentTimeout(StudentFailure):
    """No reply before the check's deadline; the child was killed."""


class StudentCrashed(StudentFailure):
    """The child died or broke the protocol (exit, signal, limit, garbage on the channel)."""


class BadReturn(StudentFailure):
    """The student's function returned something of the wrong structure (checked on the host)."""


class ModuleBlocked(StudentFailure):
    """A student module this check needs is missing or could not be imported."""


ERROR_KINDS: Mapping[str, type[StudentRaised]] = {
    "raised": StudentRaised,
    "missing": StudentMissing,
    "ungradable": StudentUngradable,
}
"""The child's ``error.kind`` -> the exception the host raises for it (unknown kinds: raised)."""


def student_raised(error: Mapping[str, Any], limit: str | None = None) -> StudentRaised:
    """The exception for an error reply of the child, by its ``kind``."""
    return ERROR_KINDS.get(str(error.get("kind", "raised")), StudentRaised)(error, limit)
