"""What the grading service runs with: the courses and their tokens (a TOML file), and how it
was started (``Settings``: the database, the workers, the executor, the sandbox, the limits).

The configuration file (``nngrader serve --config FILE``)::

    [service]
    secret = "..."                 # signs anonymous job links; default: made once in the data
    submissions_per_hour = 10      # per student (or per address, anonymous); 0: no limit
    max_queue = 200                # queued jobs past which a submission gets 429
    max_upload_mb = 20

    [courses.cs231n-spring]
    assignment = "cs231n-2021"      # a spec id, or id@offering
    token = "sha256:<hex>"          # the course (instructor) token, or its SHA-256
    submissions_per_hour = 5        # overrides the spec's ([service]) and [service]'s
    anonymous = true                # anonymous self-checks of this assignment (default true)
    students = { alice = "sha256:<hex>", bob = "<token>" }
    roster = "students.txt"         # more students: one "name token-or-hash" per line

A token is stored either as given or, better, as ``sha256:`` and its hex SHA-256 (what
``nngrader serve --make-token`` prints): the file then holds nothing that opens the service.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.service.limits import ServiceLimits

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]  # installed on 3.10 only

__all__ = ["Config", "Course", "Settings", "hash_token", "load_config", "new_token"]

HASHED = "sha256:"
"""How a stored token says it is a hash (else it is the token itself)."""


def hash_token(token: str) -> str:
    """The stored form of ``token``: ``sha256:`` and its hex SHA-256."""
    return HASHED + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _stored(value: object, where: str) -> str:
    """A token from the file in its hashed form (a plain one is hashed here)."""
    if not isinstance(value, str) or not value:
        raise GraderError(f"{where}: a token must be a non-empty string")
    return value if value.startswith(HASHED) else hash_token(value)


@dataclass(frozen=True)
class Course:
    """One course the service grades for."""

    id: str
    assignment: str
    """The spec id (or ``id@offering``) its submissions are graded against."""
    token: str | None = None
    """The course token's stored (hashed) form; None: no instructor access."""
    students: Mapping[str, str] = field(default_factory=dict)
    """Each student's name -> their token's stored form."""
    submissions_per_hour: int | None = None
    """None: the spec's (its ``[service]``), else the service's (``submit.hourly_limit``)."""
    anonymous: bool = True
    """Whether anonymous self-checks of ``assignment`` are taken."""


@dataclass(frozen=True)
class Config:
    """The configuration file's content."""

    courses: Mapping[str, Course] = field(default_factory=dict)
    secret: str | None = None
    """Signs anonymous links; None: the service makes one in its data folder."""
    limits: ServiceLimits = field(default_factory=ServiceLimits)


@dataclass(frozen=True)
class Settings:
    """How one service runs: ``create_app`` takes it, ``nngrader serve`` builds it."""

    db: Path = Path("nngrader-service.sqlite")
    """The results store of its jobs (``grader.database``); uploads live beside it, in
    ``<db>.files/``."""
    config: Config = field(default_factory=Config)
    workers: int = 1
    """Gradings at a time (worker threads), each in a child process of its own or a Dask task."""
    sandbox: str = "auto"
    """``auto``, ``bwrap`` or ``process`` (only for trusted code, as the tests' examples)."""
    start_workers: bool = True
    """False: jobs are queued but nobody grades them (tests of the queue)."""
    executor: str = "local"
    """Where jobs are graded: ``local`` (a child process each) or ``dask`` (a Dask cluster:
    ``scheduler``'s, else a ``LocalCluster`` of ``workers`` processes)."""
    scheduler: str | None = None
    """With ``dask``: the scheduler's address (``tcp://host:port``); None: a ``LocalCluster``."""

    @property
    def data(self) -> Path:
        """The service's folder for uploads and its secret."""
        return self.db.with_name(self.db.name + ".files")


def _roster(path: Path, where: str) -> dict[str, str]:
    """``name token`` lines of a roster file (blank lines and ``#`` comments skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GraderError(f"{where}: cannot read the roster {path}: {exc}") from exc
    found: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise GraderError(f"{path}:{number}: expected 'name token', got {len(words)} words")
        found[words[0]] = _stored(words[1], f"{path}:{number}")
    return found


def _course(name: str, table: Mapping[str, Any], folder: Path) -> Course:
    where = f"[courses.{name}]"
    assignment = table.get("assignment")
    if not isinstance(assignment, str) or not assignment:
        raise GraderError(f"{where}: 'assignment' (a spec id) is required")
    students = {str(k): _stored(v, f"{where} students.{k}") for k, v in
                dict(table.get("students", {})).items()}  # fmt: skip
    if "roster" in table:
        students.update(_roster(folder / str(table["roster"]), where))
    rate = table.get("submissions_per_hour")
    if rate is not None and (not isinstance(rate, int) or rate < 0):
        raise GraderError(f"{where}: submissions_per_hour must be a whole number >= 0")
    token = table.get("token")
    return Course(
        id=name,
        assignment=assignment,
        token=None if token is None else _stored(token, f"{where} token"),
        students=students,
        submissions_per_hour=rate,
        anonymous=bool(table.get("anonymous", True)),
    )


def parse_config(doc: Mapping[str, Any], folder: Path) -> Config:
    """The configuration in ``doc`` (a parsed TOML file in ``folder``, where a roster is)."""
    service = dict(doc.get("service", {}))
    known = set(ServiceLimits.__dataclass_fields__)
    unknown = set(service) - known - {"secret"}
    if unknown:
        raise GraderError(f"[service]: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    try:
        limits = ServiceLimits(**{k: v for k, v in service.items() if k in known})
    except (TypeError, ValueError) as exc:
        raise GraderError(f"[service]: {exc}") from exc
    courses = {
        name: _course(name, table, folder) for name, table in dict(doc.get("courses", {})).items()
    }
    secret = service.get("secret")
    return Config(courses=courses, secret=None if secret is None else str(secret), limits=limits)


def load_config(path: Path | None) -> Config:
    """The configuration file at ``path`` (None: no courses, anonymous self-checks only).

    Raises:
        GraderError: the file cannot be read or says something wrong (the message names it).
    """
    if path is None:
        return Config()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GraderError(f"--config {path}: {exc}") from exc
    return parse_config(doc, path.parent)
