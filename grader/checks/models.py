"""Checks of ``TwoLayerNet`` / ``FullyConnectedNet`` (variants.md §1.2, §10).

* ``model_init``: parameter names, shapes, dtype and initial statistics.
* ``model_loss``: the reference's parameters are injected into the student's net; loss, every
  gradient and the test-mode scores are compared with the reference's on the same inputs.
  With dropout, one known set of masks (the canonical draw) replaces the dropout layer the
  student's net calls, so any mask convention of the student's own layer is accepted. A net that
  does not call a function named ``dropout_forward`` is judged by ``grader.checks.no_injection``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.nets import build, canonical_kwargs, reference_kwargs, scores
from grader.checks.no_injection import judge_without_injection
from grader.errors import BadReturn


def init(ctx: Context) -> None:
    """Parameter names, shapes, dtype, and initial statistics (weights ~ N(0, ws²), biases 0)."""
    kw = canonical_kwargs(ctx)
    np.random.seed(ctx.check.seed)
    ref = ctx.oracle.model(ctx.check.subject, **kw)
    model = build(ctx, kw)
    params = ctx.request("getattr", obj={"handle": model.id, "attr": "params"})
    if not ctx.require(
        "params", isinstance(params, dict), f"model.params is {type(params).__name__}, not a dict"
    ):
        return
    missing, extra = sorted(set(ref.params) - set(params)), sorted(set(params) - set(ref.params))
    ctx.require(
        "parameter names",
        not missing and not extra,
        f"parameter names: missing {missing or 'none'}, unexpected {extra or 'none'}",
    )
    ws = kw["weight_scale"]
    for name in sorted(set(ref.params) & set(params)):
        value, expected = params[name], ref.params[name]
        if not ctx.require(
            f"{name} shape",
            getattr(value, "shape", None) == expected.shape,
            f"{name} has shape {getattr(value, 'shape', None)}, expected {expected.shape}",
        ):
            continue
        if "dtype" in kw:
            ctx.require(
                f"{name} dtype",
                value.dtype == expected.dtype,
                f"{name} has dtype {value.dtype}, expected {expected.dtype}",
            )
        if name.startswith("W"):
            std = float(np.std(value))
            ctx.require(
                f"{name} std",
                abs(std - ws) < ws / 10,
                f"std({name}) = {std:.4g}; expected about weight_scale = {ws:g} (within 10%)",
            )
        else:
            fill = 1.0 if name.startswith("gamma") else 0.0
            ctx.require(
                f"{name} init", bool(np.all(value == fill)), f"{name} should start as all {fill:g}"
            )


def loss(ctx: Context) -> None:
    """Loss, gradients and scores with the reference's parameters injected."""
    kw = canonical_kwargs(ctx)
    if "dtype" in kw:
        kw["dtype"] = np.float64  # losses and gradients are compared in float64
    # Replays the notebooks' cells: np.random.seed(seed); X = randn(N, D); y = randint(C, N); then
    # the model draws its weights from the same stream (variants.md §2.4, seed-231 cells).
    np.random.seed(ctx.check.seed)
    n = int(ctx.param("num_inputs", 2))
    X = np.random.randn(n, kw["input_dim"])
    y = np.random.randint(kw["num_classes"], size=n)
    if "labels" in ctx.check.params:  # a notebook's fixed labels (TwoLayerNet cell: y = [0, 5, 1])
        y = np.asarray(ctx.check.params["labels"], dtype=np.int64)
    ref = ctx.oracle.model(ctx.check.subject, **reference_kwargs(ctx, kw))
    if ctx.param("linspace", False):
        _linspace_params(ref.params)
        X = np.linspace(-5.5, 4.5, num=n * kw["input_dim"]).reshape(kw["input_dim"], n).T
    elif ctx.param("perturb", kw["reg"] != 0):
        # Non-trivial biases, gammas and betas, so that regularizing them is visible.
        for name, value in ref.params.items():
            if not name.startswith("W"):
                base = 1.0 if name.startswith("gamma") else 0.0
                ref.params[name] = base + 0.1 * ctx.rng.randn(*value.shape)
    model = build(ctx, kw)
    for name, value in ref.params.items():
        ctx.request(
            "setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value.copy()
        )
    masks = _dropout_masks(ctx, kw, n)
    if masks:
        ctx.request("dropout", masks=masks)
    method = {"handle": model.id, "attr": "loss"}
    result = ctx.returns(ctx.call(method, X.copy(), y.copy()), ("loss", "grads"), "loss(X, y)")
    student_loss, grads = result
    calls, ps = _dropout_record(ctx) if masks else (0, [])
    if masks and calls == 0:
        judge_without_injection(ctx, model, method, X, y, student_loss, grads, ref, kw)
        return
    if masks:
        _check_dropout_p(ctx, ps, kw["dropout_keep_ratio"])
    if masks and not ctx.require(
        "dropout calls",
        calls == len(kw["hidden_dims"]),
        f"the net called dropout_forward {calls} times in one forward pass; "
        f"expected {len(kw['hidden_dims'])}",
    ):
        if calls > len(kw["hidden_dims"]):
            ctx.diagnosis = (
                "dropout is also applied after the last affine layer (only hidden layers use it)"
            )
    ref_loss, ref_grads = ref.loss(X.copy(), y.copy())
    ctx.compare("loss", student_loss, ref_loss)
    if not ctx.require(
        "grads", isinstance(grads, dict), f"grads is {type(grads).__name__}, not a dict"
    ):
        return
    student = {"loss": student_loss}
    for name in sorted(ref_grads):
        student[f"grads['{name}']"] = grads.get(name)
        ctx.compare(f"grads['{name}']", grads.get(name), ref_grads[name])
    candidates = ctx.oracle.mistakes(
        "net_regularization", ref.params, kw["reg"], ref_loss, ref_grads
    )
    if kw.get("normalization") == "batchnorm" and not masks:
        candidates += ctx.oracle.mistakes(
            "net_batchnorm_order", ref.params, X, y, len(kw["hidden_dims"]) + 1
        )
    ctx.diagnose(student, candidates)
    if ctx.param("scores", True):
        scores(ctx, method, X, ref, kw)


def _linspace_params(params: dict[str, np.ndarray]) -> None:
    """The notebooks' deterministic parameter fixture (variants.md §6.4 item 5, §10.1)."""
    ranges = {
        "W1": (-0.7, 0.3),
        "b1": (-0.1, 0.9),
        "W2": (-0.3, 0.4),
        "b2": (-0.9, 0.1),
        "W3": (-0.3, 0.4),
        "b3": (-0.9, 0.1),
    }
    for name, (lo, hi) in ranges.items():
        if name in params:
            params[name] = np.linspace(lo, hi, num=params[name].size).reshape(params[name].shape)


def _dropout_masks(ctx: Context, kw: dict[str, Any], n: int) -> list[np.ndarray]:
    """The masks the reference draws (seeded dropout: U < keep, scaled by 1/keep)."""
    keep = kw.get("dropout_keep_ratio", 1.0)
    if keep == 1:
        return []
    masks = []
    for h in kw["hidden_dims"]:
        u = np.random.RandomState(kw["seed"]).rand(n, h)
        masks.append((u < keep) / keep)
    return masks


def _dropout_record(ctx: Context) -> tuple[int, list[Any]]:
    """How often the injected dropout ran, and the ``p`` of each call (validated: untrusted)."""
    record = ctx.request("dropout_calls")
    if not (
        isinstance(record, dict)
        and isinstance(record.get("calls"), int)
        and isinstance(record.get("p"), list)
    ):
        raise BadReturn("the dropout record came back malformed")
    return record["calls"], record["p"]


def _check_dropout_p(ctx: Context, ps: list[Any], keep: float) -> None:
    """The net must pass the course's ``p`` (keep or drop probability) to its dropout layer."""
    expected = keep if ctx.api.dropout_p == "keep" else 1.0 - keep
    wrong = [p for p in ps if not isinstance(p, (int, float)) or abs(p - expected) > 1e-12]
    meaning = "keep" if ctx.api.dropout_p == "keep" else "drop"
    ok = ctx.require(
        "dropout_param['p']",
        not wrong,
        f"the net passed p = {wrong[0] if wrong else None!r} to dropout_forward; in this course p "
        "is "
        f"the {meaning} probability, so the net should pass {expected:g}",
    )
    if not ok and all(
        isinstance(p, (int, float)) and abs(p - (1.0 - expected)) <= 1e-12 for p in wrong
    ):
        ctx.diagnosis = "keep and drop probability flipped where the net builds dropout_param"


INIT = {"TwoLayerNet": init, "FullyConnectedNet": init}
LOSS = {"TwoLayerNet": loss, "FullyConnectedNet": loss}
