"""Value checks of the update rules (variants.md §1.3), including the state written to config.

The student's ``config`` uses the course's state keys (UCLA: ``a`` for RMSProp's cache, ``v``/``a``
for Adam's moments); the reference uses the canonical ones. The spec's ``api.state_keys`` maps
between them, so both sides get the same numbers under their own names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.stubs import name_stub

STATE = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "sgd_nesterov_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v", "t"),
}


def notebook_fixture(n: int = 4, d: int = 5) -> dict[str, np.ndarray]:
    """The optimizer fixture shared by every notebook (variants.md §1.3), canonical names."""
    size = n * d

    def lin(a: float, b: float) -> np.ndarray:
        return np.linspace(a, b, num=size).reshape(n, d)

    return {
        "w": lin(-0.4, 0.6),
        "dw": lin(-0.6, 0.4),
        "velocity": lin(0.6, 0.9),
        "cache": lin(0.6, 0.9),
        "m": lin(0.6, 0.9),
        "v": lin(0.7, 0.5),
    }


def _inputs(ctx: Context, rule: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """w, dw and the canonical config (state included unless the check tests the defaults)."""
    config: dict[str, Any] = {
        "learning_rate": float(ctx.param("learning_rate", 1e-2 if rule != "adam" else 1e-3))
    }
    for key in ("momentum", "decay_rate", "beta1", "beta2", "epsilon"):
        if key in ctx.check.params:
            config[key] = float(ctx.check.params[key])
    if ctx.param("fixture", "") == "notebook":
        arrays = notebook_fixture()
    else:
        shape = ctx.shape("w", (4, 5))
        arrays = {
            "w": ctx.randn("w", shape),
            "dw": ctx.randn("dw", shape),
            "velocity": ctx.randn("velocity", shape),
            "cache": ctx.rng.rand(*shape) + 0.1,
            "m": ctx.randn("m", shape) * 0.1,
            "v": ctx.rng.rand(*shape) * 0.1,
        }
    if not ctx.param("fresh", False):
        for key in STATE[rule]:
            config[key] = int(ctx.param("t", 5)) if key == "t" else arrays[key]
    elif rule == "adam":
        config["t"] = ctx.api.adam_t_default  # what the course's own default means
    return arrays["w"], arrays["dw"], config


def value(ctx: Context) -> None:
    """next_w and every state entry the rule writes back, vs the reference."""
    rule = ctx.check.subject
    w, dw, config = _inputs(ctx, rule)
    keys = ctx.api.state_keys
    student_config = {keys.get(k, k): v for k, v in config.items()}
    if ctx.param("fresh", False) and rule == "adam":
        del student_config[keys["t"]]  # the student's code must supply its own default
    reply = ctx.call(rule, w.copy(), dw.copy(), student_config)
    next_w, returned = ctx.returns(reply, ("next_w", "config"), rule)
    ref_w, ref_config = ctx.oracle.call(
        rule,
        w.copy(),
        dw.copy(),
        {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in config.items()},
    )
    ctx.compare("next_w", next_w, ref_w)
    if not isinstance(returned, dict):
        ctx.require(
            "config",
            False,
            f"{rule} returned config as {type(returned).__name__}; expected the config dict",
        )
        return
    student = {"next_w": next_w}
    for key in STATE[rule]:
        course_key = keys.get(key, key)
        student[f"config['{key}']"] = returned.get(course_key)
        ctx.compare(
            f"config['{course_key}']",
            returned.get(course_key),
            np.asarray(ref_config[key], dtype=float),
        )
    name_stub(ctx, rule, [next_w], [w])
    ctx.diagnose(student, ctx.oracle.mistakes(rule, w, dw, config))


VALUE = {rule: value for rule in STATE}
