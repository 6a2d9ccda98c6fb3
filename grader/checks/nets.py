"""The student's net and its reference twin: constructor arguments under the course's names,
building the student's net in the child, and comparing test-mode scores with the reference's.

Shared by the ``model_loss`` checks (``grader.checks.models``) and their no-injection fallback
(``grader.checks.no_injection``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.accepted import choose
from grader.checks.context import Context, generator_kept
from grader.child.protocol import Handle
from grader.compare import compare
from grader.errors import BadReturn
from grader.spec import Api

__all__ = [
    "build",
    "canonical_kwargs",
    "close",
    "course_kwargs",
    "net_with",
    "reference_kwargs",
    "reference_twin",
    "scores",
]


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


def build(ctx: Context, kw: dict[str, Any]) -> Handle:
    """Construct the student's model with canonical kwargs mapped to the course's; its handle."""
    args, ckw = course_kwargs(ctx.api, ctx.check.subject, kw)
    model = ctx.request(
        "construct", (args, ckw), fn=ctx.target(ctx.check.subject), seed=ctx.check.seed
    )
    if not isinstance(model, Handle):  # the reply is the child's claim: a forged frame lies
        raise BadReturn("the student's process answered the construction of the net with no net")
    return model


def net_with(
    ctx: Context, kw: dict[str, Any], params: dict[str, np.ndarray]
) -> tuple[Any, dict[str, Any]]:
    """A fresh student net (canonical ``kw``) holding copies of ``params``; with its ``loss``."""
    model = build(ctx, kw)
    for name, value in params.items():
        ctx.request(
            "setitem", obj={"handle": model.id, "attr": "params"}, key=name, value=value.copy()
        )
    return model, {"handle": model.id, "attr": "loss"}


def scores(
    ctx: Context, method: dict[str, Any], X: np.ndarray, ref: Any, kw: dict[str, Any]
) -> None:
    """Test-mode scores ``loss(X)`` of the student's net vs the reference's (X: shape (N, D))."""
    scores = ctx.call(method, X.copy())
    expected = ref.loss(X.copy())
    batchnorm, line = kw.get("normalization") == "batchnorm", ctx.api.bn_mode_line
    valid: list[tuple[str, np.ndarray]] = []
    if batchnorm and line == "either":
        valid.append(("", reference_twin(ctx, ref, kw, "starter").loss(X.copy())))
    if batchnorm and line != "starter":
        # A batchnorm the layer check accepts is accepted here too: the running statistics
        # after one training call are small, and any difference in test mode grows with them.
        valid += ctx.oracle.accepted(
            "batchnorm_net_scores", ref.params, getattr(ref, "bn_params", []), X
        )
    expected = choose(ctx, scores, expected, valid)
    if not (batchnorm and line != "starter"):
        ctx.compare("scores = loss(X)", scores, expected)
        return
    with generator_kept():  # asked on every path (a kit knows the correct path's questions)
        fresh = ctx.oracle.mistakes("net_fresh_bn_params", ref.params, X, reference_kwargs(ctx, kw))
    if not ctx.compare("scores = loss(X)", scores, expected):
        ctx.diagnose({"scores = loss(X)": scores}, fresh)


def close(ctx: Context, actual: Any, expected: np.ndarray) -> bool:
    """Whether ``actual`` is within the check's tolerance of ``expected`` (nothing recorded)."""
    tol = ctx.spec.tolerance(ctx.check)
    return compare("scores", actual, expected, rtol=tol.rtol, atol=tol.atol).passed


def reference_twin(ctx: Context, ref: Any, kw: dict[str, Any], line: str) -> Any:
    """A reference net with ``ref``'s parameters and the other batchnorm mode line."""
    twin = ctx.oracle.model(
        "FullyConnectedNet", **{**reference_kwargs(ctx, kw), "bn_mode_line": line}
    )
    twin.params = {k: v.copy() for k, v in ref.params.items()}
    return twin


def reference_kwargs(ctx: Context, kw: dict[str, Any]) -> dict[str, Any]:
    """Reference constructor arguments: the course's batchnorm mode line where it has one."""
    if ctx.check.subject == "FullyConnectedNet" and kw.get("normalization") == "batchnorm":
        line = ctx.api.bn_mode_line
        return {**kw, "bn_mode_line": "fixed" if line == "either" else line}
    return kw
