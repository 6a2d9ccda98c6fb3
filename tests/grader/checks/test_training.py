"""The ``solver`` check: a training loop in the grading process (``host_training``).

The loop is driven three ways: against a real child serving the bundled correct cs231n-2021
example, replayed step for step by the given ``reference/solver.py`` (the semantics it must keep);
against a scripted stand-in for the student's process (each malformed answer and what it is
called); and end to end through ``api.grade_submission``, where the check must pass the correct
example with the numbers it always had, fail a broken update rule, and ignore ``optim.py`` where
the course gives the optimizers.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader import api, intake
from grader.checks.context import Context
from grader.checks.host_training import FINITE, RESULT, TRAINED, Setup, Trained, train_on_host
from grader.checks.oracle import LiveOracle
from grader.child.protocol import Handle
from grader.results import CheckResult
from grader.sandbox.session import Session, SessionConfig
from grader.spec import Spec
from grader.workspace.stage import stage
from reference import fc_net, optim
from reference.data import synthetic_dataset
from reference.solver import Solver
from tests.grader.conftest import PlainLauncher

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
CORRECT = EXAMPLES / "cs231n-2021" / "correct"
SEED = 7
SIDE = 4  # 4x4 images: the replays below are about semantics, not accuracy

pytestmark = pytest.mark.skipif(not CORRECT.is_dir(), reason="bundled example missing")


# -- a real child serving the correct example ------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> Spec:
    return api.get_spec("cs231n-2021")


@pytest.fixture(scope="module")
def session(spec: Spec, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    staged = stage(CORRECT, spec, tmp_path_factory.mktemp("training"))
    config = SessionConfig(
        runtime=staged.runtime,
        workspace=staged.workspace,
        compat=spec.api.compat,
        modules={m: spec.dotted(m) for m in spec.student_modules},
        output_path=staged.output,
    )
    launcher = PlainLauncher()
    with Session(config, launcher) as live:
        yield live
    launcher.kill_all()


class Recording:
    """The session, recording every array sent to the child (and the ops)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sent: list[np.ndarray] = []
        self.ops: list[tuple[str, set[str]]] = []

    def request(self, op: str, deadline: float, arrays: Any = None, **fields: Any) -> Any:
        self.sent.extend((arrays or {}).values())
        self.ops.append((op, set(fields)))
        return self.session.request(op, deadline, arrays, **fields)


class CountingOracle(LiveOracle):
    def __init__(self) -> None:
        self.rules: list[str] = []

    def call(self, name: str, *args: Any) -> Any:
        self.rules.append(name)
        return super().call(name, *args)


def context(spec: Spec, session: Any, oracle: Any = None) -> Context:
    check = next(c for c in spec.checks if c.kind == "solver")
    check = replace(check, seed=SEED)
    ctx = Context(check, spec, session, oracle or LiveOracle(), timeout=60.0)
    for module in spec.modules_needed(check):
        ctx.request("import", module=module)
    ctx.request("reset", seed=SEED)
    return ctx


def setup(ctx: Context, *, given: bool = False, **options: Any) -> Setup:
    return Setup(
        rule="adam",
        rule_target={} if given else ctx.target("adam"),
        given=given,
        **{"learning_rate": 1e-2, "num_epochs": 2, "batch_size": 50, **options},
    )


def reference_net(hidden: int = 6) -> fc_net.FullyConnectedNet:
    np.random.seed(SEED)  # what the check does before the reference draws its weights
    return fc_net.FullyConnectedNet(
        [hidden], input_dim=3 * SIDE * SIDE, num_classes=10, weight_scale=1e-2, dtype=np.float64
    )


def run(ctx: Context, options: Setup, num_train: int) -> tuple[Trained, Any, dict[str, Any]]:
    data = synthetic_dataset(num_train, 60, 1, seed=SEED, image_shape=(3, SIDE, SIDE))
    ref = reference_net()
    model = ctx.request(
        "construct",
        ([[6]], {"input_dim": 3 * SIDE * SIDE, "weight_scale": 1e-2, "dtype": "float64"}),
        fn=ctx.target("FullyConnectedNet"),
        seed=SEED,
    )
    return train_on_host(ctx, model, ref, data, options), ref, data


@pytest.mark.parametrize(
    ("given", "options", "num_train"),
    [
        (False, {}, 500),
        # more rows than the Solver's training-accuracy subset (1000): its draws shift the batches
        (False, {"lr_decay": 0.5, "batch_size": 100}, 1100),
        (True, {"lr_decay": 0.5, "num_epochs": 3}, 300),
    ],
    ids=["student-rule", "decay-and-subset-draws", "given-rule"],
)
def test_the_loop_replays_the_given_solver(
    spec: Spec, session: Session, given: bool, options: dict[str, Any], num_train: int
) -> None:
    """Same batches, decay, records and best parameters as ``Solver.train`` seeded the same."""
    ctx = context(spec, session)
    trained, ref, data = run(ctx, setup(ctx, given=given, **options), num_train)
    model = reference_net()
    np.random.seed(SEED)
    solver = Solver(
        model,
        data,
        update_rule=optim.adam,
        optim_config={"learning_rate": 1e-2},
        verbose=False,
        **{"num_epochs": 2, "batch_size": 50, **options},
    )
    solver.train()
    assert trained.failure is None
    np.testing.assert_allclose(trained.losses, solver.loss_history, rtol=1e-9)
    assert trained.accuracy == solver.best_val_acc > 0.1
    for name, value in solver.best_params.items():
        np.testing.assert_allclose(ref.params[name], value, rtol=1e-8, atol=1e-12)


def test_the_validation_split_never_reaches_the_child(spec: Spec, session: Session) -> None:
    recording = Recording(session)
    ctx = context(spec, recording)
    trained, _, data = run(ctx, setup(ctx), 500)
    assert trained.failure is None
    val_rows = {row.tobytes() for row in data["X_val"].reshape(len(data["X_val"]), -1)}
    for array in recording.sent:
        if array.dtype == np.float64 and array.size % (3 * SIDE * SIDE) == 0:
            rows = array.reshape(-1, 3 * SIDE * SIDE)
            assert not val_rows & {row.tobytes() for row in rows}
        assert not np.array_equal(array, data["y_val"])
    steps = [fields for op, fields in recording.ops if op == "train_step"]
    assert len(steps) == 2 * 500 // 50  # one request per iteration
    assert sum("X_train" in fields for fields in steps) == 1  # the training split crosses once
    # The child starts each later step from the next_w it returned, which the host took as is.
    assert ["params" in fields for fields in steps] == [True] + [False] * (len(steps) - 1)


def test_a_given_rule_is_applied_here(spec: Spec, session: Session) -> None:
    recording, oracle = Recording(session), CountingOracle()
    ctx = context(spec, recording, oracle)
    trained, ref, _ = run(ctx, setup(ctx, given=True), 500)
    assert trained.failure is None
    steps = [fields for op, fields in recording.ops if op == "train_step"]
    assert steps and not any("update_rule" in fields for fields in steps)
    assert all("params" in fields for fields in steps)  # the host's update, sent every time
    assert oracle.rules == ["adam"] * len(ref.params) * len(steps)


# -- malformed answers, from a scripted stand-in for the student's process -------------------------

PARAMS = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
SIZE = sum(int(np.prod(s)) for s in PARAMS.values())


class Scripted:
    """Answers ``train_step`` with what ``answer(fields)`` returns; ``check`` and ``oracle`` as a
    ``Context`` has them."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.check = type("Check", (), {"seed": 0})()
        self.oracle = LiveOracle()
        self.steps = 0

    def request(self, op: str, **fields: Any) -> Any:
        assert op == "train_step"
        self.steps += 1
        return self.answer(fields)


def tiny() -> Any:
    np.random.seed(0)
    return fc_net.FullyConnectedNet([3], input_dim=4, num_classes=2, dtype=np.float64)


def tiny_data() -> dict[str, np.ndarray]:
    rng = np.random.RandomState(0)
    return {
        "X_train": rng.randn(20, 4),
        "y_train": rng.randint(2, size=20),
        "X_val": rng.randn(10, 4),
        "y_val": rng.randint(2, size=10),
    }


def good_grads() -> np.ndarray:
    return np.full(SIZE, 0.1)


def answer(result: Any = None, updates: Any = None, run: Any = "handle") -> Any:
    def reply(fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "result": (1.0, good_grads()) if result is None else result,
            "updates": np.full(SIZE, 0.5) if updates is None else updates,
        }
        if run == "handle":
            out["run"] = Handle("h1", "dict")
        return out

    return reply


def trained_with(reply: Any, **options: Any) -> tuple[Trained, Scripted]:
    ctx = Scripted(reply)
    options = {"learning_rate": 1e-2, "num_epochs": 2, "batch_size": 5, **options}
    rule = Setup(
        rule="adam", rule_target={"module": "optim", "attr": "adam"}, given=False, **options
    )
    return train_on_host(ctx, Handle("h0", "Net"), tiny(), tiny_data(), rule), ctx  # type: ignore[arg-type]


def test_well_formed_answers_train_to_the_end() -> None:
    trained, ctx = trained_with(answer())
    assert trained.failure is None and ctx.steps == 2 * 20 // 5
    assert trained.losses == [1.0] * ctx.steps


STUDENT_KEY = "\x1b[2J-W1-is-mine"


@pytest.mark.parametrize(
    ("reply", "comparison", "words"),
    [
        (answer(result="scores"), RESULT, "returned a str; expected (loss, grads)"),
        (answer(result=("1.0", good_grads())), RESULT, "returned a loss that is a str"),
        (answer(result=(1.0, [0.1])), RESULT, "returned grads as a list; expected a dict"),
        (
            answer(result=(1.0, {k: np.zeros(s) for k, s in PARAMS.items() if k != "b2"})),
            RESULT,
            "missing ['b2'] and with 0 key(s)",
        ),
        (
            answer(result=(1.0, {**{k: np.zeros(s) for k, s in PARAMS.items()}, STUDENT_KEY: 1})),
            RESULT,
            "missing none and with 1 key(s) that are not parameters",
        ),
        (
            answer(
                result=(1.0, {**{k: np.zeros(s) for k, s in PARAMS.items()}, "W1": np.zeros(4)})
            ),
            RESULT,
            "grads for W1 as an array of shape (4,); W1 is (4, 3)",
        ),
        (answer(result=(np.nan, good_grads())), FINITE, "the training loss became NaN or infinite"),
        (
            answer(result=(1.0, np.r_[np.inf, good_grads()[1:]])),
            FINITE,
            "the gradient of W1 became NaN or infinite (iteration 0)",
        ),
        (answer(updates=np.zeros(SIZE - 1)), TRAINED, "returned next_w as an array of shape"),
        (answer(updates=np.zeros(SIZE - 1)), TRAINED, "expected a dict of arrays: W1 (4, 3)"),
        (
            answer(updates={k: (np.zeros(s), {}) for k, s in PARAMS.items() if k != "W1"}),
            TRAINED,
            "missing ['W1']",
        ),
        (
            answer(updates={k: np.zeros(s) for k, s in PARAMS.items()}),
            TRAINED,
            "returned an array of shape (4, 3) for W1; expected (next_w, config)",
        ),
        (
            answer(updates={k: (np.zeros(3), {}) for k in PARAMS}),
            TRAINED,
            "returned next_w for W1 as an array of shape (3,); W1 is (4, 3)",
        ),
        (answer(run=None), RESULT, "answered a training step with something malformed"),
    ],
)
def test_each_malformed_answer_stops_training_and_is_named(
    reply: Any, comparison: str, words: str
) -> None:
    trained, ctx = trained_with(reply)
    assert trained.failure is not None and ctx.steps == 1
    assert trained.failure[0] == comparison
    assert words in trained.failure[1], trained.failure[1]
    assert STUDENT_KEY not in trained.failure[1]  # no text the student chose


def test_a_non_finite_loss_later_keeps_the_history_so_far() -> None:
    losses = iter([2.0, 1.0, np.inf])
    trained, ctx = trained_with(lambda f: answer(result=(next(losses), good_grads()))(f))
    assert trained.failure == (FINITE, "the training loss became NaN or infinite")
    assert trained.losses == [2.0, 1.0] and ctx.steps == 3


def test_parameters_are_sent_again_unless_the_child_holds_them() -> None:
    """After next_w came back as a dict (not the packed vector the child mirrors), the host's
    parameters are sent with the next step."""
    sent = []
    shaped = {k: (np.ones(s), {}) for k, s in PARAMS.items()}

    def reply(fields: dict[str, Any]) -> Any:
        sent.append("params" in fields)
        return answer(updates=shaped if len(sent) == 2 else None)(fields)

    trained, _ = trained_with(reply)
    assert trained.failure is None
    assert sent[:4] == [True, False, True, False]


def test_the_decay_is_asked_for_after_each_epoch_end_only() -> None:
    decays = []

    def reply(fields: dict[str, Any]) -> Any:
        decays.append(fields.get("decay"))
        return answer()(fields)

    trained_with(reply, lr_decay=0.9)
    per_epoch = 20 // 5
    assert decays == [0.9 if (t + 1) % per_epoch == 0 else None for t in range(2 * per_epoch)]


# -- end to end ----------------------------------------------------------------------------------


def graded(sub: Path, course: str, tmp: Path) -> CheckResult:
    full = api.get_spec(course)
    spec = replace(full, checks=tuple(c for c in full.checks if c.kind == "solver"))
    (submission,) = intake.collect([sub], tmp / "intake", lms=False)
    result = api.grade_submission(
        submission, spec=spec, workdir=tmp / "work", sandbox="process", limits={"check_seconds": 30}
    )
    (check,) = result.checks
    return check


def planted(tmp: Path, course: str, module: str, code: str) -> Path:
    sub = tmp / "sub"
    shutil.copytree(EXAMPLES / course.partition("@")[0] / "correct", sub)
    path = sub / api.get_spec(course).student_modules[module]
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))
    return sub


def messages(check: CheckResult) -> dict[str, str]:
    return {c.name: c.message for c in check.comparisons}


def test_the_correct_example_trains_as_it_always_did(tmp_path: Path) -> None:
    """The numbers the child's Solver produced before the loop moved here (goldens pin them)."""
    check = graded(CORRECT, "cs231n-2021", tmp_path)
    assert check.status == "passed" and check.score == check.max_score == 2
    assert messages(check)["loss decreases"] == "mean loss went from 2.0714 to 0.4923"
    assert messages(check)["validation accuracy"] == (
        "validation accuracy 0.380 after training with adam (needs >= 0.25)"
    )


def test_an_update_rule_that_does_not_move_the_weights_fails(tmp_path: Path) -> None:
    check = graded(
        planted(
            tmp_path,
            "cs231n-2021",
            "optim",
            "def adam(w, dw, config=None):\n    return w, config\n",
        ),
        "cs231n-2021",
        tmp_path,
    )
    assert check.status == "failed" and check.score == 0
    failed = {c.name for c in check.comparisons if not c.passed}
    assert "validation accuracy" in failed and "training result" not in failed, check.message


def test_an_update_rule_that_returns_no_pair_is_named(tmp_path: Path) -> None:
    sub = planted(tmp_path, "cs231n-2021", "optim", "def adam(w, dw, config=None):\n    return w\n")
    check = graded(sub, "cs231n-2021", tmp_path)
    assert check.status == "failed"
    # The net is the check's subject (named first); the update rule is the culprit it names.
    assert check.message.startswith("`FullyConnectedNet` in `cs231n/classifiers/fc_net.py`: ")
    assert "trained parameters: iteration 0: adam returned an array" in check.message


def test_a_net_that_drops_a_gradient_is_named(tmp_path: Path) -> None:
    code = """
    _planted_loss = FullyConnectedNet.loss
    def _dropping(self, X, y=None):
        result = _planted_loss(self, X, y)
        if y is None:
            return result
        loss, grads = result
        del grads["b2"]
        return loss, grads
    FullyConnectedNet.loss = _dropping
    """
    check = graded(planted(tmp_path, "cs231n-2021", "fc_net", code), "cs231n-2021", tmp_path)
    assert check.status == "failed"
    assert "returned grads missing ['b2']" in check.message


def test_lists_are_unpacked_as_the_solver_unpacks_them(tmp_path: Path) -> None:
    """``loss, grads = model.loss(...)`` and ``next_w, config = rule(...)`` accept lists too."""
    sub = planted(
        tmp_path,
        "cs231n-2021",
        "fc_net",
        """
        _planted_loss = FullyConnectedNet.loss
        def _listed(self, X, y=None):
            result = _planted_loss(self, X, y)
            return result if y is None else list(result)
        FullyConnectedNet.loss = _listed
        """,
    )
    optim = sub / api.get_spec("cs231n-2021").student_modules["optim"]
    optim.write_text(
        optim.read_text()
        + "\n\n_planted_adam = adam\ndef adam(w, dw, config=None):\n"
        + "    return list(_planted_adam(w, dw, config))\n"
    )
    check = graded(sub, "cs231n-2021", tmp_path)
    assert check.status == "passed", check.message
    assert messages(check)["loss decreases"] == "mean loss went from 2.0714 to 0.4923"


BROKEN_OPTIM = """
def sgd_momentum(w, dw, config=None):
    raise NotImplementedError
rmsprop = adam = sgd_momentum
"""


@pytest.mark.parametrize("course", ["cs231n-2021@2025", "cs182-sp25"])
def test_a_given_optimizer_is_not_taken_from_optim_py(course: str, tmp_path: Path) -> None:
    if not (EXAMPLES / course.partition("@")[0] / "correct").is_dir():
        pytest.skip(f"bundled example of {course} missing")
    check = graded(planted(tmp_path, course, "optim", BROKEN_OPTIM), course, tmp_path)
    assert check.status == "passed" and check.score == check.max_score, check.message
