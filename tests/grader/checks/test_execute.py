"""The check stage: visible checks first, hidden checks in a child of their own, spec order kept,
and no student-controlled text in what a hidden check says."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from grader import scoring
from grader.checks import execute
from grader.checks.context import Context
from grader.checks.execute import HIDDEN, VISIBLE, phases, run_checks
from grader.checks.oracle import LiveOracle
from grader.errors import StudentMissing, StudentRaised, StudentUngradable
from grader.report.student_view import student_check
from grader.results import CheckResult, Outcome
from grader.sandbox import Limits
from grader.sandbox.session import ProtocolBroken, Session, SessionConfig
from grader.spec import Spec
from grader.spec.registry import get_spec
from grader.workspace.stage import stage
from tests.grader.conftest import PlainLauncher

ROOT = Path(__file__).resolve().parents[3]
CORRECT = ROOT / "examples" / "cs231n-2021" / "correct"
HIDDEN_INPUT = "0.0123456789"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return get_spec("cs231n-2021")


# -- a fake child: checks run against it without any process --------------------------------------


class FakeConfig:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace


class FakeSession:
    """Answers the check stage's requests; ``failures`` maps an op (or ``import:<module>``) to
    the exception it raises, ``answers`` an op to its reply (None otherwise)."""

    answers: ClassVar[dict[str, Any]] = {}

    def __init__(self, phase: str, workspace: Path, failures: dict[str, Exception]) -> None:
        self.phase = phase
        self.config = FakeConfig(workspace)
        self.failures = failures
        self.requests: list[tuple[str, Any]] = []

    def request(self, op: str, deadline: float, arrays: Any = None, **fields: Any) -> Any:
        self.requests.append((op, fields.get("module")))
        failure = self.failures.get(f"{op}:{fields.get('module')}") or self.failures.get(op)
        if failure is not None:
            raise failure
        return self.answers.get(op)

    def output_size(self) -> int:
        return 0

    def output_since(self, offset: int, limit: int) -> str:
        return f"printed in the {self.phase} phase"


class Recorder:
    """Stands in for every check implementation: notes which session ran which check."""

    def __init__(self, fail: Callable[[Context], None] | None = None) -> None:
        self.ran: list[tuple[str, str]] = []
        self.fail = fail

    def __call__(self, ctx: Context) -> None:
        self.ran.append((ctx.check.id, ctx.session.phase))  # type: ignore[attr-defined]
        if self.fail is not None:
            self.fail(ctx)
        ctx.require("ok", True, "fine")


class Phases:
    """The ``sessions`` factory of ``run_checks``: logs when each phase's child starts and ends."""

    def __init__(self, workspace: Path, failures: dict[str, dict[str, Exception]]) -> None:
        self.workspace = workspace
        self.failures = failures
        self.events: list[str] = []
        self.sessions: dict[str, FakeSession] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[Session]:
        session = FakeSession(phase, self.workspace, self.failures.get(phase, {}))
        self.sessions[phase] = session
        self.events.append(f"start {phase}")
        yield session  # type: ignore[misc]
        self.events.append(f"stop {phase}")


def install(monkeypatch: pytest.MonkeyPatch, rec: Recorder) -> Recorder:
    """``rec`` implements every kind and subject."""

    class Subjects:
        def __getitem__(self, subject: str) -> Recorder:
            return rec

    class Kinds:
        def __getitem__(self, kind: str) -> Subjects:
            return Subjects()

    monkeypatch.setattr(execute, "IMPLEMENTATIONS", Kinds())
    return rec


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    return install(monkeypatch, Recorder())


def run(
    spec: Spec, tmp_path: Path, failures: dict[str, dict[str, Exception]] | None = None, **lim: Any
) -> tuple[tuple[Outcome, ...], Phases]:
    sessions = Phases(tmp_path, failures or {})
    outcomes = run_checks(spec, sessions, LiveOracle(), limits=Limits(**lim))
    return outcomes, sessions


# -- phases and order ---------------------------------------------------------------------------


def test_phases_put_every_visible_check_first_and_the_rest_after(spec: Spec) -> None:
    checks = spec.active_checks()
    (visible, first), (hidden, second) = phases(checks)
    assert (visible, hidden) == (VISIBLE, HIDDEN)
    assert all(c.visibility == "visible" for c in first)
    assert second and all(c.visibility != "visible" for c in second)
    assert sorted(c.id for c in first + second) == sorted(c.id for c in checks)
    assert [c.id for c in first] == [c.id for c in checks if c in first]  # spec order within


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published"])
def test_every_visibility_but_visible_runs_in_the_hidden_phase(spec: Spec, visibility: str) -> None:
    checks = tuple(replace(c, visibility=visibility) for c in spec.active_checks()[:3])
    assert [name for name, _ in phases(checks)] == [HIDDEN]


def test_hidden_checks_run_after_every_visible_one_in_a_child_of_their_own(
    spec: Spec, tmp_path: Path, recorder: Recorder
) -> None:
    outcomes, sessions = run(spec, tmp_path)
    assert sessions.events == ["start visible", "stop visible", "start hidden", "stop hidden"]
    phase_of = dict(recorder.ran)
    first_hidden = next(i for i, (_, phase) in enumerate(recorder.ran) if phase == HIDDEN)
    assert all(phase == HIDDEN for _, phase in recorder.ran[first_hidden:])
    for check in spec.active_checks():
        assert phase_of[check.id] == (VISIBLE if check.visibility == "visible" else HIDDEN)
    # Spec order in the result, whatever order they ran in; each check keeps its phase's output.
    assert [o.check_id for o in outcomes] == [c.id for c in spec.active_checks()]
    for outcome, check in zip(outcomes, spec.active_checks(), strict=True):
        assert outcome.output == f"printed in the {phase_of[check.id]} phase"
    # The child of each phase imports the modules again (a fresh process).
    assert ("import", "optim") in sessions.sessions[HIDDEN].requests


def test_without_hidden_checks_there_is_one_child(
    spec: Spec, tmp_path: Path, recorder: Recorder
) -> None:
    public = replace(spec, checks=tuple(c for c in spec.checks if c.visibility == "visible"))
    _, sessions = run(public, tmp_path)
    assert sessions.events == ["start visible", "stop visible"]


@pytest.mark.parametrize("value_check_hidden", [False, True])
def test_scoring_rules_work_across_the_phases(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value_check_hidden: bool
) -> None:
    """with_value and root causes see every outcome, whichever phase each ran in."""
    failing = {"fc_loss", "fc_loss_deep_hidden", "affine_backward"}

    def fail(ctx: Context) -> None:
        if ctx.check.id in failing:
            ctx.require("forced", False, "forced failure")

    install(monkeypatch, Recorder(fail))
    if value_check_hidden:  # the value check runs after the gradient check that names it
        spec = replace(
            spec,
            checks=tuple(
                replace(c, visibility="hidden") if c.id == "affine_backward" else c
                for c in spec.checks
            ),
        )
    outcomes, _ = run(spec, tmp_path)
    results = {r.check_id: r for r in scoring.score(outcomes, spec.active_checks())}
    numeric = results["affine_backward_numeric"]
    assert numeric.status == "passed" and numeric.score == 0
    assert "value check 'affine_backward' failed" in numeric.message
    assert results["fc_loss_deep_hidden"].root_cause == "affine_backward"  # via fc_loss
    assert results["fc_loss"].root_cause == "affine_backward"


def test_the_submission_time_limit_spans_both_phases(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(ctx: Context) -> None:
        time.sleep(0.05)

    install(monkeypatch, Recorder(slow))
    outcomes, _ = run(spec, tmp_path, submission_seconds=0.2)
    checks = spec.active_checks()
    hidden = [o for o, c in zip(outcomes, checks, strict=True) if c.visibility != "visible"]
    assert all("the submission's time limit (0.2 s) was used up" in o.message for o in hidden)


# -- what a hidden check says -------------------------------------------------------------------


def raised(message: str, traceback: str = "", type_name: str = "ValueError") -> StudentRaised:
    return StudentRaised({"type": type_name, "message": message, "traceback": traceback})


def outcome_of(outcomes: tuple[Outcome, ...], check_id: str) -> Outcome:
    return next(o for o in outcomes if o.check_id == check_id)


def hidden_view(outcome: Outcome) -> str:
    """What a student sees of ``outcome`` as the result of a check that is not visible, once
    released (``after_due_date``: a hidden check shows no message at all)."""
    check = CheckResult(
        **{f.name: getattr(outcome, f.name) for f in fields(Outcome)},
        part="p",
        title="t",
        score=0.0,
        max_score=1.0,
        visibility="after_due_date",
    )
    return student_check(check).message


def test_an_import_that_fails_in_the_hidden_phase_shows_no_student_text(
    spec: Spec, tmp_path: Path, recorder: Recorder
) -> None:
    boom = raised(f"recorded lr={HIDDEN_INPUT}", type_name="ValueError")
    outcomes, sessions = run(spec, tmp_path, {HIDDEN: {"import:optim": boom}})
    hidden = outcome_of(outcomes, "sgd_momentum_hidden")
    assert HIDDEN_INPUT in hidden.message  # the grader's full account keeps it...
    shown = hidden_view(hidden)
    assert HIDDEN_INPUT not in shown  # ...a student never sees it
    assert shown == (
        "importing cs231n/optim.py failed: raised ValueError "
        "(the message is not shown for hidden checks)"
    )
    # Not imported again for the next hidden check that needs it.
    assert sessions.sessions[HIDDEN].requests.count(("import", "optim")) == 1
    assert outcome_of(outcomes, "adam_defaults_hidden").message == hidden.message


def test_a_module_that_failed_in_the_visible_phase_is_not_imported_again(
    spec: Spec, tmp_path: Path, recorder: Recorder
) -> None:
    outcomes, sessions = run(spec, tmp_path, {VISIBLE: {"import:optim": raised("at import")}})
    assert ("import", "optim") not in sessions.sessions[HIDDEN].requests
    hidden = outcome_of(outcomes, "sgd_momentum_hidden")
    # Said once for the submission (the problem); the check says it is blocked and points there.
    assert hidden.message == "blocked: `cs231n/optim.py` does not import (see above)"
    assert hidden.blocked_by is not None and hidden.blocked_by.summary == "ValueError: at import"
    assert hidden_view(hidden) == hidden.message  # host-worded: nothing to redact


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (
            StudentMissing({"type": "StudentError", "message": f"no attribute {HIDDEN_INPUT!r}"}),
            "not defined (looked for 'adam' in cs231n/optim.py; "
            "the details are not shown for hidden checks)",
        ),
        (
            StudentUngradable({"type": "ProtocolError", "message": f"type {HIDDEN_INPUT}"}),
            "the student's code returned something that cannot be graded "
            "(the details are not shown for hidden checks)",
        ),
        (
            ProtocolBroken(f"the student's process broke the protocol (array {HIDDEN_INPUT!r})"),
            "the student's process broke the protocol "
            "(the details are not shown for hidden checks)",
        ),
        (
            raised(HIDDEN_INPUT, type_name=f"E_{HIDDEN_INPUT.replace('.', '_')}"),
            "raised an exception of its own class "
            "(its name and message are not shown for hidden checks)",
        ),
        (
            raised(HIDDEN_INPUT, type_name="LinAlgError"),
            "raised LinAlgError (the message is not shown for hidden checks)",
        ),
    ],
    ids=["missing", "ungradable", "protocol", "own-class", "numpy-class"],
)
def test_a_hidden_check_words_every_failure_without_the_childs_text(
    spec: Spec, tmp_path: Path, recorder: Recorder, failure: Exception, shown: str
) -> None:
    outcomes, _ = run(spec, tmp_path, {HIDDEN: {"call": failure, "reset": failure}})
    hidden = outcome_of(outcomes, "adam_defaults_hidden")
    assert hidden.status == "error"
    assert hidden_view(hidden) == shown
    assert HIDDEN_INPUT not in hidden_view(hidden)


# -- where: only real files of the workspace ------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "cs231n").mkdir(parents=True)
    (ws / "cs231n" / "layers.py").write_text("import numpy as np\n\ndef f(x):\n    raise X\n")
    (ws / "cs231n" / "link.py").symlink_to("/etc/hostname")
    return ws


def frame(path: str | Path, line: int, name: str = "f") -> str:
    return f'  File "{path}", line {line}, in {name}\n    code\n'


def where(workspace: Path, *frames: str) -> str:
    trace = "Traceback (most recent call last):\n" + "".join(frames) + "ValueError: x\n"
    return execute._where(raised("x", trace), workspace)


def test_where_names_a_real_workspace_file_and_line(workspace: Path) -> None:
    layers = workspace / "cs231n" / "layers.py"
    assert where(workspace, frame(layers, 4)) == " (layers.py, line 4)"
    # The innermost frame in the workspace, past frames of numpy or the harness.
    numpy_frame = frame("/usr/lib/python3/dist-packages/numpy/linalg.py", 90)
    assert where(workspace, frame(layers, 4), numpy_frame) == " (layers.py, line 4)"


@pytest.mark.parametrize(
    "forged",
    [
        f"<lr={HIDDEN_INPUT}, line 99>",  # compile(src, '<any text>', 'exec')
        "{ws}/cs231n/w_" + HIDDEN_INPUT.replace(".", "_") + ".py",  # a file that does not exist
        "{ws}/cs231n/../../../etc/passwd",  # leaves the workspace
        "/etc/passwd",
        "{ws}/cs231n/link.py",  # a link out of the workspace
        "{ws}/cs231n",  # a folder
    ],
)
def test_where_never_names_a_file_the_workspace_does_not_have(workspace: Path, forged: str) -> None:
    assert where(workspace, frame(forged.format(ws=workspace), 1)) == ""


@pytest.mark.parametrize("line", [0, 5, 123456789])
def test_where_never_names_a_line_the_file_does_not_have(workspace: Path, line: int) -> None:
    assert where(workspace, frame(workspace / "cs231n" / "layers.py", line)) == ""


def test_a_forged_frame_line_inside_a_file_name_names_only_the_real_file(workspace: Path) -> None:
    layers = workspace / "cs231n" / "layers.py"
    fake = f'{layers}", line 2, in f\n  File "<w={HIDDEN_INPUT}>'
    assert HIDDEN_INPUT not in where(workspace, frame(fake, 77))
    assert where(workspace, '  File "' + "a/" * 100_000 + '", line 1, in f\n') == ""


# -- end to end over a real child ---------------------------------------------------------------


RECORDER = """

_nng_seen = []
_nng_sgd_momentum = sgd_momentum


def sgd_momentum(w, dw, config=None):
    _nng_seen.append(("NNG-SEEN", w.shape, repr(float(w.flat[0]))))
    print(_nng_seen)
    return _nng_sgd_momentum(w, dw, config)


_nng_rmsprop = rmsprop


def rmsprop(w, dw, config=None):
    print(_nng_seen)
    return _nng_rmsprop(w, dw, config)
"""


def test_globals_recorded_in_a_hidden_check_never_reach_a_visible_one(
    spec: Spec, tmp_path: Path
) -> None:
    """Over a real child: the hidden phase's globals stay in the hidden phase's process."""
    sub = tmp_path / "sub"
    shutil.copytree(CORRECT, sub)
    optim = sub / "cs231n" / "optim.py"
    optim.write_text(optim.read_text() + RECORDER)
    optim_spec = replace(
        spec, checks=tuple(c for c in spec.checks if c.subject in ("sgd_momentum", "rmsprop"))
    )
    staged = stage(sub, optim_spec, tmp_path / "work")
    config = SessionConfig(
        runtime=staged.runtime,
        workspace=staged.workspace,
        modules={m: optim_spec.dotted(m) for m in optim_spec.student_modules},
        compat=optim_spec.api.compat,
        output_path=staged.output,
    )
    launcher = PlainLauncher()

    @contextmanager
    def sessions(phase: str) -> Iterator[Session]:
        with Session(config, launcher) as session:
            yield session

    try:
        outcomes = run_checks(optim_spec, sessions, LiveOracle())
    finally:
        launcher.kill_all()
    by_id = {o.check_id: o for o in outcomes}
    assert [o.check_id for o in outcomes] == ["sgd_momentum", "sgd_momentum_hidden", "rmsprop"]
    assert by_id["sgd_momentum_hidden"].output.count("NNG-SEEN") == 1  # a fresh child
    assert "(7, 3)" in by_id["sgd_momentum_hidden"].output  # the recorder saw the hidden input
    assert "(4, 5)" in by_id["rmsprop"].output and "(7, 3)" not in by_id["rmsprop"].output
    assert all(o.status == "passed" for o in outcomes), [o.message for o in outcomes]


# -- a module that does not import: said once, each check blocked -----------------------------


def test_a_syntax_error_found_in_the_hidden_phase_is_worded_by_the_hosts_compiler(
    spec: Spec, tmp_path: Path, recorder: Recorder
) -> None:
    """The host compiles the file itself: the problem is said without a word of the child's."""
    optim = tmp_path / "cs231n" / "optim.py"
    optim.parent.mkdir(parents=True)
    optim.write_text("import numpy as np\n\ndef sgd(w, dw, config=None)\n    return w\n")
    trace = f'  File "{optim}", line 3\n    def sgd(w, dw, config=None)\n' + " " * 31 + "^\n"
    forged = raised(f"lr={HIDDEN_INPUT}", trace, type_name="SyntaxError")
    outcomes, _ = run(spec, tmp_path, {HIDDEN: {"import:optim": forged}})
    hidden = outcome_of(outcomes, "sgd_momentum_hidden")
    problem = hidden.blocked_by
    assert problem is not None
    assert (problem.module, problem.file, problem.line) == ("cs231n/optim.py", "cs231n/optim.py", 3)
    assert problem.summary.startswith("SyntaxError: ") and HIDDEN_INPUT not in problem.summary
    assert problem.code == "def sgd(w, dw, config=None)"
    assert hidden.message == "blocked: `cs231n/optim.py` does not import (see above)"
    assert HIDDEN_INPUT not in hidden_view(hidden)
    # Every hidden check that needs optim points to the same problem; none names a root cause.
    blocked = [o for o in outcomes if o.blocked_by is not None]
    assert {o.blocked_by for o in blocked} == {problem} and all(o.exercised == () for o in blocked)


def test_a_failed_check_names_the_students_function_and_lists_the_other_failures(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(ctx: Context) -> None:
        for name in ("dx", "dw", "db", "dgamma", "dbeta", "dmean"):
            ctx.require(name, False, f"{name} is wrong")

    install(monkeypatch, Recorder(fail))
    outcomes, _ = run(replace(spec, checks=(spec.checks[1],)), tmp_path)
    (outcome,) = outcomes
    assert outcome.message == (
        "`affine_backward` in `cs231n/layers.py`: dx: dx is wrong; "
        "also failing: dw, db, dgamma and 2 more"
    )


def test_a_root_cause_is_named_only_when_the_check_ran_its_function(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The BN net failed while batchnorm failed too: BN is its root cause only if it ran BN."""
    failing = {"batchnorm_forward_train", "fc_batchnorm_loss", "fc_loss"}

    def fail(ctx: Context) -> None:
        if ctx.check.id in failing:
            ctx.require("forced", False, "forced failure")

    install(monkeypatch, Recorder(fail))
    for reached, cause in (
        (["affine_forward", "relu_forward", "loss"], "fc_loss"),  # a net that never ran BN
        (["affine_forward", "batchnorm_forward"], "batchnorm_forward_train"),
        (None, "batchnorm_forward_train"),  # the child cannot say: every dependency may be
    ):
        monkeypatch.setattr(FakeSession, "answers", {"reached": reached})
        outcomes, _ = run(spec, tmp_path)
        results = {r.check_id: r for r in scoring.score(outcomes, spec.active_checks())}
        assert results["fc_batchnorm_loss"].root_cause == cause, reached
        assert results["fc_loss"].root_cause is None  # its dependencies passed
