"""Value and gradient checks of the layer functions (variants.md §1.1).

Each layer is described once (its forward, backward, input recipe and gradient names); the value
check compares the student's outputs with the reference's on the same seeded inputs, and the
gradient check compares the student's backward with centred differences of the student's own
forward. The student's cache is opaque: it stays in the child and is handed back to the
student's backward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.accepted import choose, state_array
from grader.checks.context import Context
from grader.checks.stubs import name_stub
from grader.numeric import NotNumeric, numeric_array


@dataclass(frozen=True)
class Layer:
    forward: str
    backward: str
    inputs: Callable[[Context], list[Any]]
    """Forward arguments (float64 arrays and param dicts) for a check."""
    grads: tuple[str, ...]
    """Names of the backward's outputs, one per leading forward argument."""


def _affine(ctx: Context) -> list[Any]:
    x = ctx.randn("x", (10, 2, 3))
    d = int(np.prod(x.shape[1:]))
    m = ctx.shape("w", (d, 5))[1]
    return [x, ctx.randn("w", (d, m)), ctx.randn("b", (m,))]


def _relu(ctx: Context) -> list[Any]:
    return [ctx.randn("x", (10, 10))]


def _norm_inputs(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = ctx.randn("x", (4, 5), scale=ctx.param("scale", 5.0), shift=ctx.param("shift", 12.0))
    d = x.shape[1]
    return x, ctx.randn("gamma", (d,)), ctx.randn("beta", (d,))


def _batchnorm(ctx: Context) -> list[Any]:
    x, gamma, beta = _norm_inputs(ctx)
    bn_param: dict[str, Any] = {"mode": ctx.param("mode", "train")}
    for key in ("eps", "momentum"):
        if key in ctx.check.params:
            bn_param[key] = float(ctx.check.params[key])
    if bn_param["mode"] == "test":
        bn_param["running_mean"] = ctx.randn("running_mean", (x.shape[1],))
        bn_param["running_var"] = ctx.rng.rand(x.shape[1]) + 0.5
    return [x, gamma, beta, bn_param]


def _layernorm(ctx: Context) -> list[Any]:
    x, gamma, beta = _norm_inputs(ctx)
    return [x, gamma, beta, {}]


LAYERS = {
    "affine": Layer("affine_forward", "affine_backward", _affine, ("dx", "dw", "db")),
    "relu": Layer("relu_forward", "relu_backward", _relu, ("dx",)),
    "batchnorm": Layer(
        "batchnorm_forward", "batchnorm_backward", _batchnorm, ("dx", "dgamma", "dbeta")
    ),
    "batchnorm_alt": Layer(
        "batchnorm_forward", "batchnorm_backward_alt", _batchnorm, ("dx", "dgamma", "dbeta")
    ),
    "layernorm": Layer(
        "layernorm_forward", "layernorm_backward", _layernorm, ("dx", "dgamma", "dbeta")
    ),
}
BY_FORWARD = {layer.forward: layer for layer in LAYERS.values()}
BY_BACKWARD = {layer.backward: layer for layer in LAYERS.values()}


def _copy(args: list[Any]) -> list[Any]:
    return [a.copy() if isinstance(a, (np.ndarray, dict)) else a for a in args]


def value_forward(ctx: Context) -> None:
    """Student forward output (and the BN running statistics it writes) vs the reference."""
    layer = BY_FORWARD[ctx.check.subject]
    args = layer.inputs(ctx)
    warmup = int(ctx.param("warmup", 0)) if layer.forward == "batchnorm_forward" else 0
    ref_args = _copy(args)
    batches: list[np.ndarray] = []
    if warmup:
        # Notebook test-time check: many train-mode calls sharing one bn_param, then test mode.
        train_param, ref_param = {"mode": "train"}, {"mode": "train"}
        for _ in range(warmup):
            xs = ctx.randn(
                "x", args[0].shape, scale=ctx.param("scale", 5.0), shift=ctx.param("shift", 12.0)
            )
            batches.append(xs.copy())
            reply = ctx.call(layer.forward, xs, args[1], args[2], train_param, return_args=True)
            train_param = reply["args"][3]
            ctx.oracle.call("batchnorm_forward", xs, args[1], args[2], ref_param)
        args[3] = {**train_param, "mode": "test"}
        ref_args[3] = {**ref_param, "mode": "test"}
    before = _copy(ref_args)
    reply = ctx.call(layer.forward, *args, keep=(1,), return_args=True)
    (out, _cache) = ctx.returns(reply["value"], ("out", "cache"), layer.forward)
    ref_out, _ = ctx.oracle.call(layer.forward, *ref_args)
    batchnorm = layer.forward == "batchnorm_forward"
    if batchnorm and ref_args[3]["mode"] == "test":
        state = before[3]
        x, gamma, beta = before[:3]
        valid = ctx.oracle.accepted(
            "batchnorm_test",
            x, gamma, beta, state["running_mean"], state["running_var"], state.get("eps", 1e-5),
        )  # fmt: skip
        ref_out = choose(ctx, out, ref_out, valid)
    ctx.compare("out", out, ref_out)
    student = {"out": out}
    if batchnorm:
        # Train mode writes the running statistics; test mode must leave them as they were.
        written = reply["args"][3] if isinstance(reply["args"][3], dict) else {}
        for key in ("running_mean", "running_var"):
            name = f"bn_param['{key}']"
            expected = ref_args[3][key]
            student[name] = state_array(ctx, name, written.get(key), expected, len(args[0]))
            ctx.compare(name, student[name], expected)
    _note_in_place(ctx, layer, args, reply["args"])
    name_stub(ctx, layer.forward, [out], args[:1])
    if batchnorm:
        candidates = ctx.oracle.mistakes("batchnorm_forward", *before)
        if batches:
            candidates += ctx.oracle.mistakes("batchnorm_after_warmup", batches, *before[:3])
        ctx.diagnose(student, candidates)
    elif layer.forward == "layernorm_forward":
        ctx.diagnose(student, ctx.oracle.mistakes("layernorm_forward", *before[:3]))


def _changed(layer: Layer, sent: list[Any], returned: Any) -> list[str]:
    """Names of the forward's array inputs that the student's call left changed."""
    if not isinstance(returned, list):
        return []
    names = [grad[1:] for grad in layer.grads]  # dx -> x, dgamma -> gamma, ...
    return [
        name
        for name, given, after in zip(names, sent, returned, strict=False)
        if isinstance(given, np.ndarray)
        and not (
            isinstance(after, np.ndarray)
            and after.shape == given.shape
            and np.array_equal(after, given, equal_nan=True)
        )
    ]


def _in_place(layer: Layer, changed: list[str]) -> str:
    return (
        f"{layer.forward} modifies its input {', '.join(changed)} in place; work on a copy. "
        "It also corrupts the numerical gradient of your forward (yours in the notebook and the "
        "grader's): each centred difference perturbs one entry and calls the forward again, on "
        "an input the previous call has already changed"
    )


def _note_in_place(ctx: Context, layer: Layer, sent: list[Any], returned: Any) -> None:
    """Advisory note (the output may still be right): the forward changed an input array."""
    changed = _changed(layer, sent, returned)
    if changed:
        ctx.notes.append(_in_place(layer, changed))


def value_backward(ctx: Context) -> None:
    """Student backward (fed the student's own cache) vs the reference backward."""
    layer = BY_BACKWARD[ctx.check.subject]
    args = layer.inputs(ctx)
    ref_args = _copy(args)
    ref_out, ref_cache = ctx.oracle.call(layer.forward, *ref_args)
    dout = ctx.randn("dout", np.shape(ref_out))
    _out, cache = ctx.returns(
        ctx.call(layer.forward, *args, keep=(1,)), ("out", "cache"), layer.forward
    )
    grads = ctx.returns(ctx.call(layer.backward, dout, cache), layer.grads, layer.backward)
    expected = ctx.oracle.call(layer.backward, dout, ref_cache)
    wanted = expected if len(layer.grads) > 1 else (expected,)
    for name, actual, want in zip(layer.grads, grads, wanted, strict=True):
        ctx.compare(name, actual, want)
        if name in ("dgamma", "dbeta") and getattr(actual, "shape", None) == (args[0].shape[0],):
            ctx.diagnosis = f"{name} is summed over the wrong axis: sum over the batch (axis 0)"
    name_stub(ctx, layer.backward, list(grads), [dout])
    if layer.forward == "batchnorm_forward":
        ctx.diagnose(
            dict(zip(layer.grads, grads, strict=True)),
            ctx.oracle.mistakes("batchnorm_backward", *args[:3], dout),
        )


def gradient(ctx: Context) -> None:
    """Student backward vs centred differences of the student's own forward (float64)."""
    layer = BY_BACKWARD[ctx.check.subject]
    args = layer.inputs(ctx)
    reply = ctx.call(layer.forward, *_copy(args), keep=(1,), return_args=True)
    out, cache = ctx.returns(reply["value"], ("out", "cache"), layer.forward)
    changed = _changed(layer, args, reply["args"])
    dout = ctx.randn("dout", np.shape(out))
    grads = ctx.returns(ctx.call(layer.backward, dout, cache), layer.grads, layer.backward)
    h = float(ctx.param("h", 1e-5))
    for i, (name, analytic) in enumerate(zip(layer.grads, grads, strict=True)):
        numeric = ctx.request(
            "numgrad",
            (_copy(args), {}),
            fn=ctx.target(layer.forward),
            output=0,
            wrt={"arg": i},
            h=h,
            dout=dout,
        )
        if not ctx.compare(name, analytic, numeric) and changed:
            ctx.diagnosis = _in_place(layer, changed)


def value_loss(ctx: Context) -> None:
    """softmax_loss / svm_loss: loss and dx vs the reference."""
    x, y = _loss_inputs(ctx)
    loss, dx = ctx.returns(ctx.call(ctx.check.subject, x, y), ("loss", "dx"), ctx.check.subject)
    ref_loss, ref_dx = ctx.oracle.call(ctx.check.subject, x.copy(), y.copy())
    ctx.compare("loss", loss, ref_loss)
    ctx.compare("dx", dx, ref_dx)
    if ctx.check.subject == "softmax_loss":
        # Advisory only: without the max shift, softmax overflows on large scores.
        big, _ = ctx.returns(
            ctx.call("softmax_loss", 1e3 * x / max(float(np.abs(x).max()), 1e-12), y),
            ("loss", "dx"),
            "softmax_loss",
        )
        try:
            finite = bool(np.isfinite(numeric_array(big)).all())
        except NotNumeric:  # not a number at all: the loss comparison above said so
            finite = True
        if not finite:
            ctx.notes.append(
                "advisory, no points lost: softmax_loss returns a non-finite loss for scores "
                "around 1000; subtract each row's maximum before exponentiating"
            )


def gradient_loss(ctx: Context) -> None:
    """softmax_loss / svm_loss: returned dx vs centred differences of the returned loss."""
    x, y = _loss_inputs(ctx)
    _loss, dx = ctx.returns(ctx.call(ctx.check.subject, x, y), ("loss", "dx"), ctx.check.subject)
    numeric = ctx.request(
        "numgrad",
        ([x, y], {}),
        fn=ctx.target(ctx.check.subject),
        output=0,
        wrt={"arg": 0},
        h=float(ctx.param("h", 1e-5)),
    )
    ctx.compare("dx", dx, numeric)


def _loss_inputs(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    x = ctx.randn("x", (50, 10), scale=float(ctx.param("scale", 1e-3)))
    y = np.asarray(ctx.rng.randint(x.shape[1], size=x.shape[0]))
    return x, y


VALUE = {
    **{name: value_forward for name in BY_FORWARD},
    **{name: value_backward for name in BY_BACKWARD},
    "softmax_loss": value_loss,
    "svm_loss": value_loss,
}
GRADIENT = {
    **{name: gradient for name in BY_BACKWARD},
    "softmax_loss": gradient_loss,
    "svm_loss": gradient_loss,
}
