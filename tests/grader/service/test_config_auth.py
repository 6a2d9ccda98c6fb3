"""The configuration file, tokens and signed links (``grader.service.config``, ``auth``), the
limits' decisions (``limits``) and ``nngrader serve --make-token``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.service.auth import ANONYMOUS, Caller, identify, may_see, sign, signed, token_index
from grader.service.config import hash_token, load_config
from grader.service.limits import ServiceLimits, queue_full, rate_limited

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.toml"
    path.write_text(text)
    return path


def test_a_config_file_gives_courses_hashed_tokens_a_roster_and_limits(tmp_path: Path) -> None:
    (tmp_path / "roster.txt").write_text("# name token\ncy cy-token\n\ndee " + hash_token("d"))
    config = load_config(write(tmp_path, f"""
[service]
submissions_per_hour = 3
max_queue = 5

[courses.cs]
assignment = "cs231n-2021@2025"
token = "{hash_token('course')}"
submissions_per_hour = 1
students = {{ ada = "ada-token" }}
roster = "roster.txt"
"""))  # fmt: skip
    course = config.courses["cs"]
    assert course.assignment == "cs231n-2021@2025" and course.submissions_per_hour == 1
    # every token is kept hashed, the plain ones hashed on reading
    assert course.students == {"ada": hash_token("ada-token"), "cy": hash_token("cy-token"),
                               "dee": hash_token("d")}  # fmt: skip
    assert (config.limits.submissions_per_hour, config.limits.max_queue) == (3, 5)
    tokens = token_index(config)
    assert identify(tokens, "Bearer course") == Caller("cs")
    assert identify(tokens, "bearer cy-token") == Caller("cs", "cy")
    assert identify(tokens, None) == ANONYMOUS
    assert identify(tokens, "Bearer wrong") is None and identify(tokens, "Basic cy-token") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[courses.cs]\ntoken = 'x'\n", "'assignment'"),
        ("[service]\nmax_qeue = 3\n", "unknown keys ['max_qeue']"),
        ("[service]\nmax_queue = 0\n", "max_queue must be > 0"),
        ("[courses.cs]\nassignment = 'a'\nroster = 'none.txt'\n", "cannot read the roster"),
        ("[courses.cs\n", "service.toml"),
    ],
)
def test_a_wrong_config_file_is_named_with_its_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(GraderError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text))


def test_a_link_key_opens_its_own_job_only() -> None:
    key = sign(b"secret", "job1")
    assert signed(b"secret", "job1", key)
    assert not signed(b"secret", "job2", key) and not signed(b"other", "job1", key)
    assert not signed(b"secret", "job1", None) and not signed(b"secret", "job1", key[:-1])


def test_who_may_see_a_job() -> None:
    ada, bob, teacher = Caller("cs", "ada"), Caller("cs", "bob"), Caller("cs")
    assert may_see(ada, "cs", "ada", False) and not may_see(bob, "cs", "ada", False)
    assert may_see(teacher, "cs", "ada", False) and may_see(teacher, "cs", None, False)
    assert not may_see(Caller("other"), "cs", "ada", False)
    assert not may_see(ANONYMOUS, "cs", None, False) and may_see(ANONYMOUS, "cs", None, True)
    assert not may_see(ada, "cs", None, False)  # an anonymous job is nobody's but the link's


def test_the_limits_refuse_with_retry_after() -> None:
    limits = ServiceLimits(max_queue=2, retry_after=7)
    assert queue_full(1, limits) is None
    full = queue_full(2, limits)
    assert full is not None and full.status_code == 429 and full.headers == {"Retry-After": "7"}
    assert rate_limited([100.0, 200.0], 3, 300.0) is None
    assert rate_limited([100.0] * 5, 0, 300.0) is None  # 0: no limit
    late = rate_limited([100.0, 200.0], 2, 300.0)
    assert late is not None and late.headers == {"Retry-After": str(100 + 3600 - 300)}


def test_make_token_prints_a_token_and_only_its_hash_for_the_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "serve", "--make-token", "--course", "cs",
         "--student", "ada"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    first, second = done.stdout.strip().splitlines()
    token = first.rsplit(" ", 1)[1]
    assert second == f'configuration ([courses.cs]): students.ada = "{hash_token(token)}"'
    usage = subprocess.run([sys.executable, "-m", "grader", "serve", "--make-token"],
                           capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert usage.returncode == 2 and "--course" in usage.stderr
