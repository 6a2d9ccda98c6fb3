"""Hidden inputs must not reach anything a student sees (see conftest.py for the invariants).

Each attack records the inputs of the hidden optimizer checks (``sgd_momentum_hidden`` and
``adam_defaults_hidden``) and tries to carry them into a visible check's output or message, or
into the hidden check's own message. The needles are those inputs, computed here from the spec
exactly as the checks draw them; each test also finds them in the instructor's log, which proves
the attack really saw them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.conftest import (
    ASSIGNMENT,
    BASE,
    LIMITS,
    ROOT,
    Graded,
    Hostile,
    sandbox_leftovers,
    wait_for_no_leftovers,
)

pytestmark = pytest.mark.sandbox

HIDDEN_OPTIM = ("sgd_momentum_hidden", "adam_defaults_hidden")
OPTIM = "cs231n/optim.py"
NOTEBOOK_W0 = -0.4
"""First weight of the notebooks' optimizer fixture (``np.linspace(-0.4, 0.6)``): visible."""


def hidden_needles() -> list[str]:
    """The first weights of each hidden optimizer check, as ``repr`` prints them."""
    from grader.spec.registry import get_spec

    checks = {c.id: c for c in get_spec(ASSIGNMENT).checks}
    needles = []
    for check_id in HIDDEN_OPTIM:
        check = checks[check_id]
        # grader/checks/optim.py: w is the first draw of RandomState(seed), shape shapes["w"].
        w = np.random.RandomState(check.seed).randn(*check.shapes.get("w", (4, 5)))
        needles += [repr(float(v)) for v in w.flat[:3]]
    return needles


NEEDLES = hidden_needles()


def optim_with(attack: str) -> dict[str, str]:
    """The base's optim.py with ``attack`` appended (it may wrap the update rules)."""
    return {OPTIM: (BASE / OPTIM).read_text() + "\n\n" + attack.strip("\n") + "\n"}


WRAP = """
def _nng_wrap(name, before):
    original = globals()[name]

    def wrapper(w, dw, config=None):
        before(name, w, config)
        return original(w, dw, config)

    globals()[name] = wrapper


for _nng_name in ("sgd_momentum", "rmsprop", "adam"):
    _nng_wrap(_nng_name, _nng_before)
"""


def cli(command: str, path: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m grader COMMAND PATH`` under bwrap with the suite's limits, as a student or
    an instructor would; asserts that it left no process or cgroup behind."""
    options = {
        "--timeout": LIMITS["check_seconds"],
        "--submission-timeout": LIMITS["submission_seconds"],
        "--cpu-seconds": LIMITS["cpu_seconds"],
        "--memory-mb": LIMITS["memory_bytes"] / 2**20,
        "--max-processes": LIMITS["max_processes"],
        "--max-file-mb": LIMITS["max_file_bytes"] / 2**20,
        "--output-kb": LIMITS["output_bytes"] / 1024,
    }
    argv = [sys.executable, "-m", "grader", command, str(path), "--assignment", ASSIGNMENT]
    argv += ["--sandbox", "bwrap", *extra]
    for option, value in options.items():
        argv += [option, f"{value:g}"]
    before = sandbox_leftovers()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "COLUMNS": "100"}
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=600, check=False, env=env)
    left = wait_for_no_leftovers(before)
    assert not left, f"left after `nngrader {command}`: {sorted(left)}"
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")[-2000:]
    return done


def terminal(done: subprocess.CompletedProcess[bytes]) -> str:
    """What the command printed, which must be strict UTF-8."""
    return done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def assert_no_needle(doc: Graded, *texts: str) -> None:
    """(c) for hidden inputs: in the log (the attack saw them), nowhere a student looks."""
    assert any(n in doc.log for n in NEEDLES), "the attack never saw a hidden input"
    for needle in NEEDLES:
        assert needle not in doc.report, f"hidden input {needle} in results.json"
        for text in texts:
            assert needle not in text, f"hidden input {needle} on the terminal"


def hidden_checks_say_nothing_printed(doc: Graded) -> None:
    for check_id in HIDDEN_OPTIM:
        assert "Your code printed" not in doc.message(check_id)


# -- globals and files kept from a hidden check ----------------------------------------------------


GLOBALS = (
    """
_nng_seen = []


def _nng_before(name, w, config):
    if len(_nng_seen) < 10:  # the optimizer checks; training calls adam hundreds of times
        _nng_seen.append(repr([float(v) for v in w.flat[:3]]))
        print("NNG-SEEN", name, _nng_seen)
"""
    + WRAP
)


def test_globals_recorded_in_a_hidden_check_are_not_printed_in_a_visible_one(
    hostile: Hostile,
) -> None:
    sub = hostile.submission(files=optim_with(GLOBALS))
    (doc,) = hostile.grade(sub)
    assert doc.score <= hostile.base
    # (b): the visible checks show what the code printed there: the visible inputs only.
    for check_id in ("rmsprop", "adam"):
        doc.names(check_id, "Your code printed", "NNG-SEEN", repr(NOTEBOOK_W0))
    hidden_checks_say_nothing_printed(doc)
    done = cli("grade", sub, "--out", str(hostile.tmp / "cli-out"))
    assert done.returncode == 0
    cli_doc = json.loads((hostile.tmp / "cli-out" / "attack" / "results.json").read_text())
    assert_no_needle(doc, terminal(done), json.dumps(cli_doc))


FILES = (
    """
import os

_NNG_FILES = ["nng-record.txt", os.path.expanduser("~/.nng-record"), "/tmp/nng-record.txt",
              "/dev/shm/nng-record.txt", "/var/tmp/nng-record.txt"]
_nng_calls = []


def _nng_before(name, w, config):
    _nng_calls.append(name)
    if len(_nng_calls) > 10:  # the optimizer checks; training calls adam hundreds of times
        return
    line = repr([float(v) for v in w.flat[:3]])
    for path in _NNG_FILES:
        try:
            with open(path, "a") as f:
                f.write(line + "\\n")
        except OSError:
            pass
    found = set()
    for path in _NNG_FILES:
        try:
            with open(path) as f:
                found.update(f.read().split("\\n"))
        except OSError:
            pass
    print("NNG-FILES", name, sorted(found))
    if name == "rmsprop":
        raise ValueError("NNG-FILES " + repr(sorted(found)))
"""
    + WRAP
)


def test_files_written_in_a_hidden_check_are_not_read_in_a_visible_one(
    hostile: Hostile,
) -> None:
    doc = hostile.attack(files=optim_with(FILES))
    # (b): the visible rmsprop check reports the exception with what the files held then.
    doc.names("rmsprop", "raised ValueError: NNG-FILES", repr(NOTEBOOK_W0), status="error")
    doc.names("adam", "Your code printed", "NNG-FILES")
    hidden_checks_say_nothing_printed(doc)
    assert_no_needle(doc)


# -- a process left running by a hidden check ------------------------------------------------------


LATE = (
    """
import os, sys, threading, time


def _nng_before(name, w, config):
    if name != "sgd_momentum" or float(w.flat[0]) == -0.4:
        return
    line = "NNG-LATE " + repr([float(v) for v in w.flat[:3]])

    def shout():
        for _ in range(200):
            print(line, flush=True)
            time.sleep(0.02)

    threading.Thread(target=shout, daemon=True).start()
    if os.fork() == 0:
        try:
            shout()
        finally:
            os._exit(0)
"""
    + WRAP
)


def test_a_process_a_hidden_check_left_running_prints_into_no_visible_check(
    hostile: Hostile,
) -> None:
    doc = hostile.attack(files=optim_with(LATE))
    assert "NNG-LATE" in doc.log
    for test in doc.doc["tests"]:
        assert "NNG-LATE" not in test["output"], test["extra_data"]["check_id"]
    # (b): the checks themselves went on and passed (the attack only printed).
    for check_id in ("rmsprop", "adam", *HIDDEN_OPTIM):
        assert doc.status(check_id) == "passed", doc.message(check_id)
    assert_no_needle(doc)


# -- a forged traceback ----------------------------------------------------------------------------


FORGED = (
    """
import os

_NNG_HERE = os.path.dirname(os.path.abspath(__file__))


def _nng_before(name, w, config):
    w0 = repr(float(w.flat[0]))
    if float(w.flat[0]) == -0.4 or name == "rmsprop" or (name == "adam" and w.shape != (4, 5)):
        return  # the notebook fixture, and training (which calls adam on the net's weights)
    print("NNG-FORGED", name, w0)
    if name == "sgd_momentum":
        # A class named after the input, raised from a "file" named after it, on a made-up line.
        cls = type("E_" + w0.replace(".", "_").replace("-", "m"), (Exception,), {})
        path = f"<lr={config.get('learning_rate')!r}, w={w0}>"
    else:
        # A real file of the workspace, on a line it does not have; a frame line forged in a name.
        cls = ValueError
        path = f'{_NNG_HERE}/optim.py", line 99999, in adam\\n  File "<w={w0}>'
    src = "\\n" * (99990 + len(w0)) + "raise cls(msg)"
    exec(compile(src, path, "exec"), {"cls": cls, "msg": f"w0={w0}"})
"""
    + WRAP
)


def test_a_forged_traceback_carries_no_hidden_input_into_the_hidden_checks_message(
    hostile: Hostile,
) -> None:
    doc = hostile.attack(files=optim_with(FORGED))
    # (b): a hidden check shows its status and points only, never a message (the wording that
    # after_due_date checks show once released is pinned in tests/grader/checks/test_execute.py).
    assert doc.message("sgd_momentum_hidden") == doc.message("adam_defaults_hidden") == ""
    for check_id in HIDDEN_OPTIM:
        assert doc.status(check_id) == "error"
        for forged in ("<lr=", "<w=", "line 99999", "E_", "w0="):
            assert forged not in doc.message(check_id)
    assert doc.status("sgd_momentum") == "passed"  # the visible fixture was left alone
    assert_no_needle(doc)
