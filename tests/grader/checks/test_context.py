"""``Context``: what a check sees (seeded inputs, child calls, comparisons, credit).

The session is a fake child that records every request and answers with canned replies; the spec is
the bundled cs231n-2021 course, so checks, seeds and tolerances are real ones.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from grader.checks.context import Context
from grader.child import protocol
from grader.child.protocol import Handle
from grader.errors import BadReturn
from grader.spec import Check, Spec, Tolerance
from grader.spec.registry import get_spec

SPEC = get_spec("cs231n-2021")
CHECKS = {c.id: c for c in SPEC.checks}


@dataclass
class Sent:
    """One request as the fake child received it (fields decoded back from the wire form)."""

    op: str
    deadline: float
    fields: dict[str, Any]
    raw: dict[str, Any]
    arrays: dict[str, np.ndarray]


class FakeSession:
    """Records requests; answers each with the next canned reply."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.sent: list[Sent] = []

    def request(
        self, op: str, deadline: float, arrays: dict[str, np.ndarray] | None = None, **fields: Any
    ) -> Any:
        arrays = dict(arrays or {})
        decoded = {k: protocol.decode(v, arrays) for k, v in fields.items()}
        self.sent.append(Sent(op, deadline, decoded, fields, arrays))
        return self.replies.pop(0) if self.replies else None


class FakeOracle:
    """An oracle that must not be needed by anything ``Context`` does on its own."""

    def call(self, name: str, *args: Any) -> Any:
        raise AssertionError(f"Context called the oracle for {name}")

    def model(self, name: str, **kwargs: Any) -> Any:
        raise AssertionError(f"Context built a reference {name}")

    def mistakes(self, name: str, *args: Any) -> Any:
        raise AssertionError(f"Context asked for the mistakes of {name}")


def make(
    check: str | Check = "affine_forward",
    *replies: Any,
    spec: Spec = SPEC,
    timeout: float = 30.0,
) -> tuple[Context, FakeSession]:
    session = FakeSession(*replies)
    chk = CHECKS[check] if isinstance(check, str) else check
    return Context(chk, spec, session, FakeOracle(), timeout), session  # type: ignore[arg-type]


@pytest.fixture
def global_rng() -> Iterator[None]:
    """Tests that replay the notebooks' global seeding leave ``np.random`` as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


# -- inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("check_id", ["affine_forward", "affine_backward", "sgd_momentum_hidden"])
def test_randn_draws_what_the_notebooks_global_seeding_draws(
    check_id: str, global_rng: None
) -> None:
    """Pins ``RandomState(seed)`` == ``np.random.seed(seed); np.random.randn(...)``, in order."""
    ctx, _ = make(check_id)
    names = sorted(ctx.check.shapes)
    drawn = [ctx.randn(name, (1,)) for name in names] + [ctx.rng.randint(10, size=5)]
    np.random.seed(ctx.check.seed)
    replay = [np.random.randn(*ctx.check.shapes[name]) for name in names]
    replay.append(np.random.randint(10, size=5))
    for got, want in zip(drawn, replay, strict=True):
        np.testing.assert_array_equal(got, want)


def test_randn_reproduces_a_printed_notebook_number() -> None:
    """variants.md §2.4 (Dropout.ipynb): seed 231, ``x = randn(500, 500) + 10`` has mean
    10.000207878477502."""
    ctx, _ = make("dropout_forward")
    x = ctx.randn("x", (500, 500), shift=10.0)
    assert x.shape == (500, 500) and x.dtype == np.float64
    assert float(x.mean()) == pytest.approx(10.000207878477502, rel=1e-15)


def test_the_rng_reproduces_a_printed_notebook_draw() -> None:
    """variants.md §7.4 item 3: after ``np.random.seed(231)``, ``np.random.rand(2, 3)``."""
    ctx, _ = make("dropout_forward")
    expected = [[0.78149404, 0.58420912, 0.42671007], [0.31534469, 0.82688829, 0.90342948]]
    np.testing.assert_allclose(ctx.rng.rand(2, 3), expected, rtol=0, atol=5e-9)


def test_randn_scales_and_shifts(global_rng: None) -> None:
    """Pins ``scale * randn(shape) + shift`` (the batchnorm cell's ``5 * randn + 12``)."""
    ctx, _ = make("batchnorm_forward_train")
    x = ctx.randn("x", (1, 1), scale=5.0, shift=12.0)
    np.random.seed(231)
    np.testing.assert_array_equal(x, 5 * np.random.randn(200, 3) + 12)


def test_every_context_starts_its_own_stream() -> None:
    """Pins that a check's inputs do not depend on what other contexts drew before."""
    first, _ = make("affine_backward")
    x = first.randn("x", (2,))
    first.randn("w", (2,))
    second, _ = make("affine_backward")
    np.testing.assert_array_equal(second.randn("x", (2,)), x)


@pytest.mark.parametrize(
    ("check_id", "name", "default", "expected"),
    [
        ("affine_forward", "x", (3,), (2, 4, 5, 6)),  # the spec's shape wins
        ("affine_forward", "dout", [4, 5], (4, 5)),  # else the default, as a tuple
        ("relu_forward", "x", (3, 4), (3, 4)),
        ("sgd_momentum_hidden", "w", (5, 5), (7, 3)),
    ],
)
def test_shape_is_the_checks_or_the_default(
    check_id: str, name: str, default: Any, expected: tuple[int, ...]
) -> None:
    """Pins ``Context.shape``: the check's ``shapes`` entry, else the default (as a tuple)."""
    ctx, _ = make(check_id)
    assert ctx.shape(name, default) == expected
    assert ctx.randn(name, default).shape == expected


@pytest.mark.parametrize(
    ("check_id", "name", "default", "expected"),
    [
        ("sgd_momentum_hidden", "learning_rate", 1e-3, 0.05),
        ("sgd_momentum_hidden", "momentum", 0.9, 0.8),
        ("sgd_momentum_hidden", "h", 1e-5, 1e-5),
        ("fc_loss_reg", "reg", 0.0, 3.14),
        ("affine_forward", "scale", None, None),
    ],
)
def test_param_is_the_checks_or_the_default(
    check_id: str, name: str, default: Any, expected: Any
) -> None:
    """Pins ``Context.param``: the check's ``params`` entry, else the default."""
    ctx, _ = make(check_id)
    assert ctx.param(name, default) == expected


# -- requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canonical", "module"),
    [
        ("affine_forward", "layers"),
        ("batchnorm_backward_alt", "layers"),
        ("sgd_momentum", "optim"),
        ("adam", "optim"),
        ("FullyConnectedNet", "fc_net"),
    ],
)
def test_target_names_the_module_and_the_courses_name(canonical: str, module: str) -> None:
    """Pins the protocol target of a canonical name, renamed by the course's ``api.names``."""
    ctx, _ = make()
    assert ctx.target(canonical) == {"module": module, "attr": canonical}
    renamed = dataclasses.replace(
        SPEC, api=dataclasses.replace(SPEC.api, names={canonical: "mine"})
    )
    ctx, _ = make(spec=renamed)
    assert ctx.target(canonical) == {"module": module, "attr": "mine"}


def test_call_sends_the_target_arrays_and_options_and_returns_the_value() -> None:
    """Pins the ``call`` request's fields, its deadline and that the reply's value comes back."""
    x, w = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    before = time.monotonic()
    ctx, session = make("affine_forward", {"value": (x @ w, Handle("h1", "tuple"))}, timeout=12.0)
    out = ctx.call("affine_forward", x, w, 3)
    (sent,) = session.sent
    assert sent.op == "call"
    assert before + 12.0 <= sent.deadline <= time.monotonic() + 12.0
    assert sent.deadline == ctx.deadline
    fields = sent.fields
    assert set(fields) == {"fn", "keep", "return_args", "args", "kwargs"}  # no seed unless given
    assert fields["fn"] == {"module": "layers", "attr": "affine_forward"}
    assert (fields["keep"], fields["return_args"], fields["kwargs"]) == ([], False, {})
    assert len(sent.arrays) == 2  # arrays travel in the payload, not in the JSON
    np.testing.assert_array_equal(fields["args"][0], x)
    np.testing.assert_array_equal(fields["args"][1], w)
    assert fields["args"][2] == 3
    assert isinstance(out, tuple) and isinstance(out[1], Handle)
    np.testing.assert_array_equal(out[0], x @ w)


def test_call_passes_keep_seed_kwargs_and_a_method_target() -> None:
    """Pins ``keep`` (as a list), ``seed`` and ``kwargs``, and a handle target sent as given."""
    ctx, session = make("fc_loss", {"value": 1.5})
    method = {"handle": "h3", "attr": "loss"}
    cache = Handle("h2", "tuple")
    assert ctx.call(method, cache, keep=(0, 1), seed=7, kwargs={"y": np.arange(2)}) == 1.5
    fields = session.sent[0].fields
    assert fields["fn"] == method and fields["keep"] == [0, 1] and fields["seed"] == 7
    assert isinstance(fields["args"][0], Handle) and fields["args"][0].id == "h2"
    assert session.sent[0].raw["args"] == [{"$h": "h2", "type": "tuple"}]
    np.testing.assert_array_equal(fields["kwargs"]["y"], np.arange(2))


def test_call_with_return_args_returns_the_whole_reply() -> None:
    """Pins ``return_args``: the reply with the arguments as the student's function left them."""
    reply = {"value": 2.0, "args": [np.zeros(2), {"running_mean": np.ones(2)}], "kwargs": {}}
    ctx, session = make("batchnorm_forward_train", reply)
    assert ctx.call("batchnorm_forward", np.zeros(2), {}, return_args=True) is reply
    assert session.sent[0].fields["return_args"] is True


@pytest.mark.parametrize(
    ("reply", "return_args"),
    [
        (None, False),
        (1.5, False),
        ([1.5], False),
        ({}, False),
        ({"values": 1.5}, False),
        ({"value": 1.5}, True),  # no args
        ({"value": 1.5, "args": [1, 2]}, True),  # no kwargs
        ({"value": 1.5, "args": (1, 2), "kwargs": {}}, True),  # args not a list
        ({"value": 1.5, "args": [1], "kwargs": {}}, True),  # one argument short
        ({"value": 1.5, "args": [1, 2, 3], "kwargs": {}}, True),  # one too many
        ({"value": 1.5, "args": [1, 2], "kwargs": [("a", 1)]}, True),  # kwargs not a dict
    ],
)
def test_call_refuses_a_malformed_reply(reply: Any, return_args: bool) -> None:
    """Pins that a call's reply is checked for structure (it comes from the student's process)."""
    ctx, _ = make("affine_forward", reply)
    with pytest.raises(BadReturn) as info:
        ctx.call("affine_forward", 1, 2, return_args=return_args)
    assert str(info.value) == "the student's process answered a call with something malformed"


def test_request_encodes_every_field_and_returns_the_reply_as_is() -> None:
    """Pins ``request``: payload -> ``args``/``kwargs``, other fields encoded, reply untouched."""
    masks = [np.ones((2, 3)), np.zeros((2, 4))]
    ctx, session = make("fc_dropout_loss", {"patched": 2}, ["anything"])
    assert ctx.request("dropout", masks=masks) == {"patched": 2}
    obj = {"handle": "h1", "attr": "params"}
    assert ctx.request("setitem", ([np.eye(2)], {"k": 1.0}), obj=obj, key="W1") == ["anything"]
    dropout, setitem = session.sent
    assert (dropout.op, setitem.op) == ("dropout", "setitem")
    assert set(dropout.fields) == {"masks"} and len(dropout.arrays) == 2
    for got, want in zip(dropout.fields["masks"], masks, strict=True):
        np.testing.assert_array_equal(got, want)
    assert setitem.fields["obj"] == obj and setitem.fields["key"] == "W1"
    assert setitem.fields["kwargs"] == {"k": 1.0}
    np.testing.assert_array_equal(setitem.fields["args"][0], np.eye(2))


@pytest.mark.parametrize(
    ("value", "names", "expected"),
    [
        (1.5, ("loss",), (1.5,)),  # one name: a bare value is wrapped
        ((1.5,), ("loss",), (1.5,)),
        ((1, 2), ("out", "cache"), (1, 2)),
        ([1, 2], ("loss", "dx"), (1, 2)),  # a list of the right length is accepted
    ],
)
def test_returns_unpacks_one_value_per_name(
    value: Any, names: tuple[str, ...], expected: Any
) -> None:
    """Pins what ``returns`` accepts and that it always gives a tuple."""
    ctx, _ = make()
    assert ctx.returns(value, names, "f") == expected


@pytest.mark.parametrize(
    ("value", "names", "message"),
    [
        ((1, 2), ("out",), "returned a tuple of 2 values; expected a tuple (out)"),
        ((1, 2, 3), ("dx", "dw"), "returned a tuple of 3 values; expected a tuple (dx, dw)"),
        (
            np.zeros((2, 3)),
            ("out", "cache"),
            "returned an array of shape (2, 3); expected a tuple (out, cache)",
        ),
        (None, ("loss", "grads"), "returned None; expected a tuple (loss, grads)"),
        ({"W1": 1}, ("loss", "grads"), "returned a dict; expected a tuple (loss, grads)"),
        (1.5, ("loss", "dx"), "returned a float; expected a tuple (loss, dx)"),
        ([1, 2, 3], ("loss", "dx"), "returned a list; expected a tuple (loss, dx)"),
        (Handle("h1", "Net"), ("out", "cache"), "returned a Handle; expected a tuple (out, cache)"),
    ],
)
def test_returns_names_what_came_back_instead(
    value: Any, names: tuple[str, ...], message: str
) -> None:
    """Pins the arity/type message of ``returns`` (prefixed by what was called)."""
    ctx, _ = make()
    with pytest.raises(BadReturn) as info:
        ctx.returns(value, names, "affine_forward")
    assert str(info.value) == f"affine_forward {message}"


# -- judging ------------------------------------------------------------------------------------


def f32(x: float) -> np.ndarray:
    return np.array([x], dtype=np.float32)


def f64(x: float) -> np.ndarray:
    return np.array([x])


FLOAT32_RULE = "atol 1e-05 + rtol 0.0001·|expected|"
FLOAT64_RULE = "atol 1e-08 + rtol 1e-06·|expected|"


@pytest.mark.parametrize(
    ("check_id", "actual", "rule"),
    [
        ("affine_forward", f64(2.0), FLOAT64_RULE),
        ("affine_forward", f32(2.0), FLOAT32_RULE),
        ("affine_forward", np.float32(2.0), FLOAT32_RULE),  # a float32 scalar has a dtype too
        ("affine_forward", 2.0, FLOAT64_RULE),  # Python numbers and lists: float64
        ("affine_forward", [2.0], FLOAT64_RULE),
        ("affine_forward", np.array([2], dtype=np.int32), FLOAT64_RULE),
        # The check's own tolerance replaces the float64 default...
        ("affine_backward_numeric", f64(2.0), "atol 1e-07 + rtol 1e-05·|expected|"),
        ("softmax_loss_numeric", f64(2.0), "atol 1e-08 + rtol 1e-05·|expected|"),
        # ...but never holds float32 output to less than the spec's float32 tolerance.
        ("affine_backward_numeric", f32(2.0), FLOAT32_RULE),
        ("softmax_loss_numeric", f32(2.0), FLOAT32_RULE),
    ],
)
def test_compare_uses_the_spec_tolerance_for_the_students_dtype(
    check_id: str, actual: Any, rule: str
) -> None:
    """Pins which of the spec's tolerances ``Context.compare`` applies (seen in the message)."""
    ctx, _ = make(check_id)
    assert ctx.compare("dx", actual, f64(1.0) if np.ndim(actual) else 1.0) is False
    (result,) = ctx.comparisons
    assert result.name == "dx" and result.message.endswith(f" = {rule})")


def test_a_float32_output_passes_where_float64_would_fail() -> None:
    """Pins the practical effect: 5e-5 relative error is fine in float32 only."""
    ctx, _ = make("affine_forward")
    assert ctx.compare("out", f32(1.00005), f64(1.0)) is True
    assert ctx.compare("out", f32(1.00005).astype(np.float64), f64(1.0)) is False
    assert [c.passed for c in ctx.comparisons] == [True, False]


def test_float32_takes_the_looser_of_the_checks_and_the_specs_tolerance() -> None:
    """Pins ``Spec.tolerance`` for float32 under a check override looser in one term only."""
    check = dataclasses.replace(CHECKS["affine_forward"], tolerance=Tolerance(rtol=1e-2, atol=1e-9))
    ctx, _ = make(check)
    ctx.compare("f32", f32(2.0), f64(1.0))
    ctx.compare("f64", f64(2.0), f64(1.0))
    assert ctx.comparisons[0].message.endswith(" = atol 1e-05 + rtol 0.01·|expected|)")
    assert ctx.comparisons[1].message.endswith(" = atol 1e-09 + rtol 0.01·|expected|)")


@pytest.mark.parametrize(
    ("ok", "passed"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (np.bool_(True), True),
        (np.bool_(False), False),
    ],
)
def test_require_records_a_property_check(ok: Any, passed: bool) -> None:
    """Pins ``require``: a Comparison with the message and no error figures; a plain bool back."""
    ctx, _ = make()
    result = ctx.require("params", ok, "model.params is list, not a dict")
    assert result is passed
    (comparison,) = ctx.comparisons
    assert (comparison.name, comparison.passed) == ("params", passed)
    assert comparison.message == "model.params is list, not a dict"
    assert comparison.max_abs_err is None and (comparison.mismatched, comparison.total) == (0, 0)


WRONG, RIGHT = f64(3.0), f64(1.0)


def failed_context() -> Context:
    ctx, _ = make("softmax_loss")
    ctx.compare("loss", f64(1.5), f64(1.0))
    ctx.compare("dx", WRONG, RIGHT)
    return ctx


@pytest.mark.parametrize(
    ("candidates", "diagnosis"),
    [
        ([("no mean", {"loss": f64(1.5), "dx": WRONG})], "no mean"),
        # The first candidate all of whose outputs match, in order.
        ([("a", {"loss": f64(1.5)}), ("b", {"loss": f64(1.5), "dx": WRONG})], "a"),
        ([("a", {"loss": f64(9.0)}), ("b", {"dx": WRONG})], "b"),
        # One output off: not this mistake.
        ([("a", {"loss": f64(1.5), "dx": RIGHT})], None),
        # An output the student's record lacks: not this mistake.
        ([("a", {"loss": f64(1.5), "grads['W1']": WRONG})], None),
        # A candidate with no outputs matches nothing.
        ([("empty", {}), ("b", {"dx": WRONG})], "b"),
        ([], None),
    ],
)
def test_diagnose_names_the_first_candidate_the_student_matches(
    candidates: list[tuple[str, dict[str, Any]]], diagnosis: str | None
) -> None:
    """Pins the candidate rule of ``diagnose`` after a failure; it records no comparisons."""
    ctx = failed_context()
    ctx.diagnose({"loss": f64(1.5), "dx": WRONG}, candidates)
    assert ctx.diagnosis == diagnosis
    assert len(ctx.comparisons) == 2


def test_diagnose_matches_candidates_within_the_students_dtype_tolerance() -> None:
    """Pins that float32 student outputs are matched against candidates at float32 tolerance."""
    candidate = [("near", {"dx": f64(1.00005)})]
    ctx = failed_context()
    ctx.diagnose({"dx": f32(1.0)}, candidate)
    assert ctx.diagnosis == "near"
    ctx = failed_context()
    ctx.diagnose({"dx": f64(1.0)}, candidate)
    assert ctx.diagnosis is None


def test_diagnose_does_nothing_without_a_failure() -> None:
    """Pins that a passing check (or one that compared nothing) gets no diagnosis."""
    candidates = [("looks like it", {"dx": RIGHT})]
    ctx, _ = make("softmax_loss")
    ctx.diagnose({"dx": RIGHT}, candidates)
    assert ctx.diagnosis is None
    ctx.compare("dx", RIGHT, RIGHT)
    ctx.diagnose({"dx": RIGHT}, candidates)
    assert ctx.diagnosis is None


def test_diagnose_counts_a_failed_require_and_keeps_an_earlier_diagnosis() -> None:
    """Pins that any failed record triggers it, and that a diagnosis already set stays."""
    ctx, _ = make("fc_loss")
    ctx.require("dropout calls", False, "the net called dropout_forward 3 times")
    ctx.diagnose({"loss": RIGHT}, [("first", {"loss": RIGHT})])
    assert ctx.diagnosis == "first"
    ctx.diagnose({"loss": RIGHT}, [("second", {"loss": RIGHT})])
    assert ctx.diagnosis == "first"


@pytest.mark.parametrize("fraction", [Fraction(0), Fraction(1, 3), Fraction(1)])
def test_award_keeps_a_fraction_between_0_and_1(fraction: Fraction) -> None:
    """Pins ``award`` for fractions in 0..1 (ends included); no award leaves ``credit`` None."""
    ctx, _ = make()
    assert ctx.credit is None
    ctx.award(fraction)
    assert ctx.credit == fraction


@pytest.mark.parametrize("fraction", [Fraction(-1, 3), Fraction(3, 2), Fraction(101, 100)])
def test_award_refuses_a_fraction_outside_0_to_1(fraction: Fraction) -> None:
    """Pins the ValueError (a bug of the check, not of the student) and that nothing is kept."""
    ctx, _ = make()
    with pytest.raises(ValueError, match=rf"^credit {fraction} is outside 0\.\.1$"):
        ctx.award(fraction)
    assert ctx.credit is None
