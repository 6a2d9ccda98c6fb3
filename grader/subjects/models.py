"""Checks of ``TwoLayerNet`` / ``FullyConnectedNet`` (variants.md §1.2, §10).

* ``model_init``: parameter names, shapes, dtype and initial statistics.
* ``model_loss``: the reference's parameters are injected into the student's net; loss, every
  gradient and the test-mode scores are compared with the reference's on the same inputs.
  With dropout, one known set of masks (the canonical draw) replaces the dropout layer the
  student's net calls, so any mask convention of the student's own layer is accepted. A net that
  does not call a function named ``dropout_forward`` is judged by gradient self-consistency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader import mistakes
from grader.context import BadReturn, Context
from grader.spec import Api
from reference import fc_net


def canonical_kwargs(ctx: Context) -> dict[str, Any]:
    """Reference constructor arguments from the check's params."""
    subject = ctx.check.subject
    kw: dict[str, Any] = {
        "input_dim": int(ctx.param("input_dim", 15)),
        "num_classes": int(ctx.param("num_classes", 10)),
        "weight_scale": float(ctx.param("weight_scale", 5e-2)),
        "reg": float(ctx.param("reg", 0.0)),
    }
    if subject == "TwoLayerNet":
        kw["hidden_dim"] = int(ctx.param("hidden_dim", 50))
        return kw
    kw["hidden_dims"] = list(ctx.param("hidden_dims", [20, 30]))
    kw["dtype"] = np.dtype(ctx.param("dtype", "float64")).type
    kw["normalization"] = ctx.param("normalization", None) or None
    kw["dropout_keep_ratio"] = float(ctx.param("dropout_keep", 1.0))
    kw["seed"] = ctx.param("dropout_seed", 123 if kw["dropout_keep_ratio"] != 1 else None)
    return kw


def course_kwargs(api: Api, subject: str, kw: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Map canonical constructor arguments to the course's names and meanings."""
    kw = dict(kw)
    if subject == "TwoLayerNet":
        hidden = kw.pop("hidden_dim")
        return [], {**kw, api.twolayer_hidden_arg: hidden}
    args = [kw.pop("hidden_dims")]
    keep = kw.pop("dropout_keep_ratio")
    if keep != 1:
        kw[api.fc_dropout_arg] = keep if api.dropout_p == "keep" else 1.0 - keep
    norm = kw.pop("normalization")
    if api.fc_normalization == "use_batchnorm":
        if norm == "batchnorm":
            kw["use_batchnorm"] = True
    elif norm is not None:
        kw["normalization"] = norm
    if kw.get("seed") is None:
        kw.pop("seed", None)
    kw["dtype"] = np.dtype(kw["dtype"]).name  # dtypes cannot cross; the child resolves the name
    return args, kw


def init(ctx: Context) -> None:
    """Parameter names, shapes, dtype, and initial statistics (weights ~ N(0, ws²), biases 0)."""
    kw = canonical_kwargs(ctx)
    np.random.seed(ctx.check.seed)
    ref = getattr(fc_net, ctx.check.subject)(**kw)
    model = build(ctx, kw)
    params = ctx.request("getattr", obj={"handle": model.id, "attr": "params"})
    if not ctx.require("params", isinstance(params, dict), f"model.params is {type(params).__name__}, not a dict"):
        return
    missing, extra = sorted(set(ref.params) - set(params)), sorted(set(params) - set(ref.params))
    ctx.require("parameter names", not missing and not extra,
                f"parameter names: missing {missing or 'none'}, unexpected {extra or 'none'}")
    ws = kw["weight_scale"]
    for name in sorted(set(ref.params) & set(params)):
        value, expected = params[name], ref.params[name]
        if not ctx.require(f"{name} shape", getattr(value, "shape", None) == expected.shape,
                           f"{name} has shape {getattr(value, 'shape', None)}, expected {expected.shape}"):
            continue
        if "dtype" in kw:
            ctx.require(f"{name} dtype", value.dtype == expected.dtype, f"{name} has dtype {value.dtype}, expected {expected.dtype}")
        if name.startswith("W"):
            std = float(np.std(value))
            ctx.require(f"{name} std", abs(std - ws) < ws / 10,
                        f"std({name}) = {std:.4g}; expected about weight_scale = {ws:g} (within 10%)")
        else:
            fill = 1.0 if name.startswith("gamma") else 0.0
            ctx.require(f"{name} init", bool(np.all(value == fill)), f"{name} should start as all {fill:g}")


def build(ctx: Context, kw: dict[str, Any]) -> Any:
    """Construct the student's model with canonical kwargs mapped to the course's."""
    args, ckw = course_kwargs(ctx.api, ctx.check.subject, kw)
    return ctx.request("construct", (args, ckw), fn=ctx.target(ctx.check.subject), seed=ctx.check.seed)


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
    ref = getattr(fc_net, ctx.check.subject)(**_ref_kwargs(ctx, kw))
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
        ctx.request("setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value.copy())
    masks = _dropout_masks(ctx, kw, n)
    if masks:
        ctx.request("dropout", masks=masks)
    method = {"handle": model.id, "attr": "loss"}
    result = ctx.returns(ctx.call(method, X.copy(), y.copy()), ("loss", "grads"), "loss(X, y)")
    student_loss, grads = result
    calls, ps = _dropout_record(ctx) if masks else (0, [])
    if masks and calls == 0:
        _without_injection(ctx, model, method, X, y, student_loss, grads, ref, kw)
        return
    if masks:
        _check_dropout_p(ctx, ps, kw["dropout_keep_ratio"])
    if masks and not ctx.require("dropout calls", calls == len(kw["hidden_dims"]),
                                 f"the net called dropout_forward {calls} times in one forward pass; "
                                 f"expected {len(kw['hidden_dims'])}"):
        if calls > len(kw["hidden_dims"]):
            ctx.diagnosis = "dropout is also applied after the last affine layer (only hidden layers use it)"
    ref_loss, ref_grads = ref.loss(X.copy(), y.copy())
    ctx.compare("loss", student_loss, ref_loss)
    if not ctx.require("grads", isinstance(grads, dict), f"grads is {type(grads).__name__}, not a dict"):
        return
    student = {"loss": student_loss}
    for name in sorted(ref_grads):
        student[f"grads['{name}']"] = grads.get(name)
        ctx.compare(f"grads['{name}']", grads.get(name), ref_grads[name])
    candidates = mistakes.net_regularization(ref.params, kw["reg"], ref_loss, ref_grads)
    if kw.get("normalization") == "batchnorm" and not masks:
        candidates += mistakes.net_batchnorm_order(ref.params, X, y, len(kw["hidden_dims"]) + 1)
    ctx.diagnose(student, candidates)
    if ctx.param("scores", True):
        _scores(ctx, method, X, ref, kw)


def _scores(ctx: Context, method: dict[str, Any], X: np.ndarray, ref: Any, kw: dict[str, Any]) -> None:
    scores = ctx.call(method, X.copy())
    expected = ref.loss(X.copy())
    if kw.get("normalization") == "batchnorm" and ctx.api.bn_mode_line == "either":
        starter = _reference_twin(ctx, ref, kw, "starter")
        for candidate in (expected, starter.loss(X.copy())):
            if _close(ctx, scores, candidate):
                expected = candidate
                break
    ctx.compare("scores = loss(X)", scores, expected)


def _close(ctx: Context, actual: Any, expected: np.ndarray) -> bool:
    from grader.compare import compare

    tol = ctx.spec.tolerance(ctx.check)
    return compare("scores", actual, expected, rtol=tol.rtol, atol=tol.atol).passed


def _reference_twin(ctx: Context, ref: Any, kw: dict[str, Any], line: str) -> Any:
    twin = fc_net.FullyConnectedNet(**{**_ref_kwargs(ctx, kw), "bn_mode_line": line})
    twin.params = {k: v.copy() for k, v in ref.params.items()}
    return twin


def _ref_kwargs(ctx: Context, kw: dict[str, Any]) -> dict[str, Any]:
    if ctx.check.subject == "FullyConnectedNet" and kw.get("normalization") == "batchnorm":
        line = ctx.api.bn_mode_line
        return {**kw, "bn_mode_line": "fixed" if line == "either" else line}
    return kw


def _linspace_params(params: dict[str, np.ndarray]) -> None:
    """The notebooks' deterministic parameter fixture (variants.md §6.4 item 5, §10.1)."""
    ranges = {"W1": (-0.7, 0.3), "b1": (-0.1, 0.9), "W2": (-0.3, 0.4), "b2": (-0.9, 0.1),
              "W3": (-0.3, 0.4), "b3": (-0.9, 0.1)}
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
    if not (isinstance(record, dict) and isinstance(record.get("calls"), int) and isinstance(record.get("p"), list)):
        raise BadReturn("the dropout record came back malformed")
    return record["calls"], record["p"]


def _check_dropout_p(ctx: Context, ps: list[Any], keep: float) -> None:
    """The net must pass the course's ``p`` (keep or drop probability) to its dropout layer."""
    expected = keep if ctx.api.dropout_p == "keep" else 1.0 - keep
    wrong = [p for p in ps if not isinstance(p, (int, float)) or abs(p - expected) > 1e-12]
    meaning = "keep" if ctx.api.dropout_p == "keep" else "drop"
    ok = ctx.require("dropout_param['p']", not wrong,
                     f"the net passed p = {wrong[0] if wrong else None!r} to dropout_forward; in this course p is "
                     f"the {meaning} probability, so the net should pass {expected:g}")
    if not ok and all(isinstance(p, (int, float)) and abs(p - (1.0 - expected)) <= 1e-12 for p in wrong):
        ctx.diagnosis = "keep and drop probability flipped where the net builds dropout_param"


def _without_injection(ctx: Context, model: Any, method: dict[str, Any], X: np.ndarray, y: np.ndarray,
                       student_loss: Any, grads: Any, ref: Any, kw: dict[str, Any]) -> None:
    """Fallback when the net does not call a ``dropout_forward`` we can replace.

    Its masks are its own, so the loss cannot be compared. What is checked instead, all against
    facts the grading process computes itself: test-mode scores (no dropout) equal the
    reference's; the training loss differs from the loss without dropout; a probe reads the last
    hidden layer's dropped-out activations from the gradients and checks their values and rate;
    and the gradients agree with centred differences of the net's own (seeded) loss.
    """
    ctx.notes.append("the net does not call a function named dropout_forward, so its masks could not be "
                     "injected; judged by test-mode scores, the dropout visible in training, mask statistics "
                     "of the last hidden layer and gradient self-consistency instead")
    if not ctx.require("grads", isinstance(grads, dict), f"grads is {type(grads).__name__}, not a dict"):
        return
    # A fresh net for the scores: the training call above moved its batchnorm running statistics
    # with its own masks, which the reference cannot replay.
    fresh = build(ctx, kw)
    for name, value in ref.params.items():
        ctx.request("setitem", obj={"handle": fresh.id, "attr": "params"}, key=name, value=value.copy())
    _scores(ctx, {"handle": fresh.id, "attr": "loss"}, X, ref, kw)
    plain = fc_net.FullyConnectedNet(**{**_ref_kwargs(ctx, kw), "dropout_keep_ratio": 1, "seed": None})
    plain.params = {k: v.copy() for k, v in ref.params.items()}
    plain_loss, _ = plain.loss(X.copy(), y.copy())
    if not ctx.require("dropout in training", not _close(ctx, student_loss, np.float64(plain_loss)),
                       f"the training loss {student_loss!r} equals the loss without dropout ({plain_loss!r}): "
                       "the net applies no dropout"):
        ctx.diagnosis = "the net never applies dropout (use_dropout / dropout_param not wired into loss)"
    for name in sorted(grads):
        numeric = ctx.request("numgrad", ([X, y], {}), fn=method, output=0,
                              wrt={"obj": {"handle": model.id, "attr": "params"}, "key": name})
        ctx.compare(f"grads['{name}'] vs numeric", grads[name], numeric)
    _mask_probe(ctx, model, method, ref, kw)


PROBE_LEVEL = 1.0
"""Activation every unit of the last hidden layer has before dropout, in the probe."""


def _mask_probe(ctx: Context, model: Any, method: dict[str, Any], ref: Any, kw: dict[str, Any],
                repeats: int = 30) -> None:
    """Read the last hidden layer's dropped-out activations ``h`` (shape (K,)) from ``dW_L``.

    The probe zeroes ``W_{L-1}`` and sets its bias (or, with normalization, its beta) to
    ``PROBE_LEVEL``, so every unit is ``PROBE_LEVEL`` before dropout whatever happened below; it
    zeroes ``W_L``, so the scores are ``b_L`` and ``dscores = softmax(b_L) - onehot(y)`` is known
    here. For one example ``dW_L = outer(h, dscores)``, which gives ``h``: each entry must be 0 or
    ``PROBE_LEVEL / keep``, and the zero fraction within a binomial bound of ``1 - keep``.
    """
    last = len(kw["hidden_dims"]) + 1
    keep = float(kw["dropout_keep_ratio"])
    params = {k: v.copy() for k, v in ref.params.items()}
    b_last = np.linspace(-0.5, 0.5, params[f"b{last}"].size)
    params[f"W{last}"], params[f"b{last}"] = np.zeros_like(params[f"W{last}"]), b_last
    params[f"W{last - 1}"] = np.zeros_like(params[f"W{last - 1}"])
    params[f"b{last - 1}"] = np.full_like(params[f"b{last - 1}"], PROBE_LEVEL)
    if f"beta{last - 1}" in params:
        params[f"gamma{last - 1}"] = np.ones_like(params[f"gamma{last - 1}"])
        params[f"beta{last - 1}"] = np.full_like(params[f"beta{last - 1}"], PROBE_LEVEL)
    for name, value in params.items():
        ctx.request("setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value)
    x, y = ctx.rng.randn(1, kw["input_dim"]), np.zeros(1, dtype=np.int64)
    dscores = np.exp(b_last - b_last.max()) / np.exp(b_last - b_last.max()).sum()
    dscores[0] -= 1.0
    rows = []
    for r in range(repeats):
        _set_dropout_seed(ctx, model, 1000 + r)
        _, grads = ctx.returns(ctx.call(method, x.copy(), y.copy()), ("loss", "grads"), "loss(X, y)")
        dw = grads.get(f"W{last}") if isinstance(grads, dict) else None
        if not ctx.require(f"probe grads['W{last}']", isinstance(dw, np.ndarray) and dw.shape == params[f"W{last}"].shape
                           and bool(np.all(np.isfinite(dw))), f"grads['W{last}'] is not a finite array of shape "
                           f"{params[f'W{last}'].shape} in the dropout probe"):
            return
        h = dw.astype(np.float64) @ dscores / (dscores @ dscores)
        if not ctx.require("probe rank", np.allclose(dw, np.outer(h, dscores), rtol=1e-6, atol=1e-9),
                           f"grads['W{last}'] for one example is not outer(h, dscores): the backward pass of "
                           "the last layer is wrong, so the dropout masks cannot be read"):
            return
        rows.append(h)
    _judge_masks(ctx, np.array(rows), keep)


def _set_dropout_seed(ctx: Context, model: Any, seed: int) -> None:
    """Vary the net's dropout seed between probe calls (a net without ``dropout_param`` draws freely)."""
    from grader.runner import StudentRaised

    try:
        ctx.request("setitem", obj={"handle": model.id, "attr": "dropout_param"}, key="seed", value=seed)
    except StudentRaised:
        pass


def _judge_masks(ctx: Context, h: np.ndarray, keep: float) -> None:
    """``h``: shape (repeats, K), the probe's dropped-out activations; judge values and rate."""
    level = PROBE_LEVEL / keep
    tol = 1e-6 * level
    zero = np.abs(h) <= tol
    kept = np.abs(h - level) <= tol
    distinct = np.unique(zero, axis=0)  # a net that reseeds with a fixed seed repeats its mask
    n = distinct.size
    rate = float(distinct.mean())
    bound = 4.0 * np.sqrt(keep * (1 - keep) / n) + 1.0 / n
    values_ok = ctx.require("probe mask values", bool(np.all(zero | kept)),
                            f"the last hidden layer's activations after dropout should be 0 or {level:g} "
                            f"(= {PROBE_LEVEL:g} / keep); found values such as {_odd_value(h, zero | kept):g}")
    rate_ok = ctx.require("probe zero fraction", abs(rate - (1 - keep)) <= bound,
                          f"{rate:.3f} of the last hidden layer's units were dropped; expected "
                          f"{1 - keep:.3f} ± {bound:.3f} (keep probability {keep:g})")
    if (values_ok and rate_ok) or ctx.diagnosis:
        return
    nonzero = h[~zero]
    if np.all(np.abs(h - PROBE_LEVEL) <= tol):
        ctx.diagnosis = "the net never applies dropout after the last hidden layer in training"
    elif nonzero.size and np.allclose(nonzero, PROBE_LEVEL) and abs(rate - (1 - keep)) <= bound:
        ctx.diagnosis = "the net's dropout keeps units but does not scale them by 1/keep (inverted dropout)"
    elif nonzero.size and np.allclose(nonzero, PROBE_LEVEL / (1 - keep)) and abs(rate - keep) <= bound:
        ctx.diagnosis = "keep and drop probability flipped in the net's dropout"


def _odd_value(h: np.ndarray, ok: np.ndarray) -> float:
    return float(h[~ok][0]) if np.any(~ok) else float("nan")


INIT = {"TwoLayerNet": init, "FullyConnectedNet": init}
LOSS = {"TwoLayerNet": loss, "FullyConnectedNet": loss}
