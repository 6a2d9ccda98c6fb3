"""Who is asking, and what they may see.

Three ways in: a course token (the instructor: every job of the course, the instructor view),
a student token (their own jobs), and a job's signed link (``key=<HMAC-SHA256(secret, job
id)>``, what an anonymous self-check gets back). Tokens are compared by their SHA-256 (the
configuration keeps only hashes), keys with ``hmac.compare_digest``. Whoever may not see a job
is told it does not exist (404), never that it is someone else's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from grader.service.config import Config, hash_token

__all__ = ["ANONYMOUS", "Caller", "identify", "may_see", "sign", "signed", "token_index"]


@dataclass(frozen=True)
class Caller:
    """Who a request comes from."""

    course: str | None = None
    """The course this caller's token belongs to."""
    student: str | None = None
    """The student's name; None with a course: the course token (an instructor)."""

    @property
    def instructor(self) -> bool:
        return self.course is not None and self.student is None


ANONYMOUS = Caller()
"""Nobody in particular (no token)."""


def token_index(config: Config) -> dict[str, Caller]:
    """Every stored token hash -> whose it is (made once per service)."""
    found: dict[str, Caller] = {}
    for course in config.courses.values():
        for name, stored in course.students.items():
            found[stored] = Caller(course.id, name)
        if course.token is not None:
            found[course.token] = Caller(course.id)
    return found


def identify(tokens: Mapping[str, Caller], authorization: str | None) -> Caller | None:
    """The caller an ``Authorization`` header names (``tokens``: ``token_index``):
    ``ANONYMOUS`` without one, None for a token nobody has (the request is refused: 401)."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    # A dictionary of hashes: the lookup's timing says nothing about a token's bytes.
    return tokens.get(hash_token(token.strip()))


def sign(secret: bytes, job: str) -> str:
    """The key of ``job``'s link: HMAC-SHA256 of its id, hex."""
    return hmac.new(secret, job.encode("utf-8"), hashlib.sha256).hexdigest()


def signed(secret: bytes, job: str, key: str | None) -> bool:
    """Whether ``key`` is ``job``'s (compared in constant time, as bytes: ``compare_digest``
    refuses a ``str`` that is not ASCII, and a key is whatever the query string says)."""
    return key is not None and hmac.compare_digest(
        sign(secret, job).encode("ascii"), key.encode("utf-8", "surrogateescape")
    )


def may_see(caller: Caller, course: str | None, student: str | None, key_ok: bool) -> bool:
    """Whether ``caller`` may see a job of ``course`` submitted by ``student`` (None:
    anonymous): with its link, as its student, or as its course's instructor."""
    if key_ok:
        return True
    if caller.course is None or caller.course != course:
        return False
    return caller.instructor or (student is not None and caller.student == student)
