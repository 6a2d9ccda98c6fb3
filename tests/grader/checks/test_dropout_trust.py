"""Dropout checks pay only from facts the grading process computed (issue 10, findings 2-4).

* The injection reaches the student's dropout however the net calls it (aliases, stored
  references, undeclared helper modules, decorated functions), and ``reset`` undoes it.
* The ``p`` the net passes and its number of dropout layers show in the loss the grading process
  predicts; the child's record of calls decides nothing.
* The no-injection fallback needs every parameter's gradient and value comparisons computed here.
* The layer checks reject masks that are not random; their bounds hold their stated rate.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.checks.mask_stats import ALPHA, dispersion_interval, mean_bound, rate_interval
from grader.child.protocol import Encoder
from grader.sandbox.session import Session, SessionConfig
from grader.spec import Spec
from grader.workspace.stage import stage_runtime
from tests.grader.conftest import PlainLauncher
from tests.grader.planting import (
    COURSES,
    by_id,
    course_spec,
    failures,
    grade,
    just,
    patch,
    plant,
    skip_without,
)

NETS = ("fc_dropout_loss", "fc_dropout_batchnorm_hidden")
CALL = "h, drop_cache = dropout_forward(h, self.dropout_param)"
NOT_INJECTED = "could not be injected"


# -- the bounds hold their stated false-failure rate ---------------------------------------------


@pytest.mark.parametrize(("n", "q"), [(400, 0.25), (1000, 0.6), (60, 0.5)])
def test_rate_interval_fails_a_binomial_at_most_alpha(n: int, q: float) -> None:
    rng = np.random.RandomState(n)
    lo, hi = rate_interval(n, q, alpha=0.05)
    rates = (rng.rand(4000, n) < q).mean(axis=1)
    assert np.mean((rates <= lo) | (rates >= hi)) <= 0.05
    strict_lo, strict_hi = rate_interval(n, q)
    assert strict_lo < lo < q < hi < strict_hi


@pytest.mark.parametrize(("groups", "size", "q"), [(40, 30, 0.25), (30, 50, 0.7), (60, 12, 0.5)])
def test_dispersion_interval_fails_independent_units_at_most_alpha(
    groups: int, size: int, q: float
) -> None:
    rng = np.random.RandomState(groups * size)
    lo, hi = dispersion_interval(groups, size, q, alpha=0.05)
    kept = rng.rand(3000, groups, size) < q
    index = ((kept.sum(axis=2) - size * q) ** 2).mean(axis=1) / (size * q * (1 - q))
    assert np.mean((index <= lo) | (index >= hi)) <= 0.05
    strict_lo, strict_hi = dispersion_interval(groups, size, q)
    assert strict_lo < lo < 1 < hi < strict_hi


def test_dispersion_interval_rejects_regular_and_clumped_masks() -> None:
    """Rows keeping the same count (index 0) and 2 x 2 blocks (index about 2) fall outside."""
    lo, hi = dispersion_interval(500, 500, 0.25)
    assert 0 < lo < 1 < hi < 2


@pytest.mark.parametrize("q", [0.25, 0.7])
def test_mean_bound_fails_inverted_dropout_at_most_alpha(q: float) -> None:
    rng = np.random.RandomState(7)
    x = rng.randn(20, 30) + 10
    bound = mean_bound(x, q, alpha=0.05)
    means = ((rng.rand(3000, *x.shape) < q) * x / q).mean(axis=(1, 2))
    assert np.mean(np.abs(means - x.mean()) > bound) <= 0.05
    assert mean_bound(x, q) > bound
    assert ALPHA * 16 < 1e-9


# -- the injected dropout inside the child -------------------------------------------------------

TOY_LAYERS = '''
import functools
import numpy as np


def dropout_forward(x, dropout_param):
    """The student's own: doubles, so it is easy to tell from the injected one."""
    return 2 * x, (dropout_param, None)


def dropout_backward(dout, cache):
    return 3 * dout


def _logged(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@_logged
def wrapped_forward(x, dropout_param):
    return 5 * x, (dropout_param, None)
'''

TOY_NET = """
from toydrop.layers import dropout_forward as _aliased
from toydrop import layers as _layers
from toydrop.helpers import through_helper


class Holder:
    stored = None


def remember():
    Holder.stored = _layers.dropout_forward


def by_alias(x, p):
    return _aliased(x, p)[0]


def by_attribute(x, p):
    return _layers.dropout_forward(x, p)[0]


def by_stored(x, p):
    return Holder.stored(x, p)[0]


def by_helper(x, p):
    return through_helper(x, p)


def backward_of_alias(x, p, dout):
    out, cache = _aliased(x, p)
    return _layers.dropout_backward(dout, cache)
"""

TOY_HELPERS = """
from toydrop.layers import dropout_forward as _inner


def through_helper(x, p):
    return _inner(x, p)[0]
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A child serving the toy package; ``helpers`` is not declared to the harness."""
    root = tmp_path_factory.mktemp("toydrop")
    ws = root / "ws"
    (ws / "toydrop").mkdir(parents=True)
    (ws / "toydrop" / "__init__.py").write_text("")
    for name, text in {"layers": TOY_LAYERS, "net": TOY_NET, "helpers": TOY_HELPERS}.items():
        (ws / "toydrop" / f"{name}.py").write_text(textwrap.dedent(text))
    launcher = PlainLauncher()
    config = SessionConfig(
        runtime=stage_runtime(root / "runtime"),
        workspace=ws,
        modules={"layers": "toydrop.layers", "net": "toydrop.net"},
        compat=False,
        output_path=root / "out.txt",
    )
    with Session(config, launcher) as session:
        for module in ("layers", "net"):
            request(session, "import", module=module)
        yield session
    launcher.kill_all()


def request(session: Session, op: str, **fields: Any) -> Any:
    enc = Encoder()
    encoded = {k: enc.encode(v) for k, v in fields.items()}
    return session.request(op, time.monotonic() + 30, enc.arrays, **encoded)


def call(session: Session, module: str, attr: str, *args: Any) -> Any:
    fn = {"module": module, "attr": attr}
    reply = request(session, "call", fn=fn, args=list(args), kwargs={}, keep=[])
    return reply["value"]


TRAIN = {"mode": "train", "p": 0.75}
X = np.arange(1.0, 7.0).reshape(2, 3)
U = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.74]])


@pytest.mark.parametrize("route", ["by_alias", "by_attribute", "by_stored", "by_helper"])
def test_the_injection_reaches_every_route_to_the_students_dropout(
    toy: Session, route: str
) -> None:
    request(toy, "reset", seed=0)
    call(toy, "net", "remember")
    request(toy, "dropout", uniforms=[U], meaning="keep", surplus="zeros")
    np.testing.assert_allclose(call(toy, "net", route, X, TRAIN), X * (U < 0.75) / 0.75)
    request(toy, "reset", seed=0)  # undone: the student's own dropout again, by every route
    np.testing.assert_allclose(call(toy, "net", route, X, TRAIN), 2 * X)


def test_the_injected_backward_applies_the_mask_of_an_aliased_forward(toy: Session) -> None:
    request(toy, "reset", seed=0)
    request(toy, "dropout", uniforms=[U], meaning="keep")
    dx = call(toy, "net", "backward_of_alias", X, TRAIN, np.ones_like(X))
    np.testing.assert_allclose(dx, (U < 0.75) / 0.75)


@pytest.mark.parametrize(
    ("meaning", "p", "keep"),
    [("keep", 0.75, 0.75), ("drop", 0.25, 0.75), ("keep", 0.25, 0.25), ("drop", 0.75, 0.25)],
)
def test_the_mask_follows_the_p_the_net_passes(
    toy: Session, meaning: str, p: float, keep: float
) -> None:
    """The same uniforms give another mask for another p: the p shows in the loss."""
    request(toy, "reset", seed=0)
    request(toy, "dropout", uniforms=[U], meaning=meaning)
    out = call(toy, "net", "by_alias", X, {"mode": "train", "p": p})
    np.testing.assert_allclose(out, X * (U < keep) / keep)


@pytest.mark.parametrize("p", ["0.75", None, 0.0, 1.5, float("nan"), True])
def test_a_p_that_is_no_probability_drops_everything(toy: Session, p: Any) -> None:
    request(toy, "reset", seed=0)
    request(toy, "dropout", uniforms=[U], meaning="keep")
    np.testing.assert_array_equal(call(toy, "net", "by_alias", X, {"mode": "train", "p": p}), 0)


@pytest.mark.parametrize(("surplus", "factor"), [("zeros", 0.0), ("ones", 1.0)])
def test_calls_beyond_the_hidden_layers_get_the_surplus_mask(
    toy: Session, surplus: str, factor: float
) -> None:
    request(toy, "reset", seed=0)
    request(toy, "dropout", uniforms=[U], meaning="keep", surplus=surplus)
    call(toy, "net", "by_alias", X, TRAIN)
    np.testing.assert_array_equal(call(toy, "net", "by_alias", X, TRAIN), factor * X)
    wrong_shape = np.ones((2, 2))
    np.testing.assert_array_equal(
        call(toy, "net", "by_alias", wrong_shape, TRAIN), factor * wrong_shape
    )


def test_a_decorated_dropout_is_rebound_by_name(toy: Session) -> None:
    """A closure's code cannot be swapped; its module name (and aliases) are rebound instead."""
    request(toy, "reset", seed=0)
    request(toy, "dropout", uniforms=[U], meaning="keep", forward="wrapped_forward")
    out, _ = call(toy, "layers", "wrapped_forward", X, TRAIN)
    np.testing.assert_allclose(out, X * (U < 0.75) / 0.75)
    request(toy, "reset", seed=0)
    np.testing.assert_allclose(call(toy, "layers", "wrapped_forward", X, TRAIN)[0], 5 * X)


# -- nets: what decides the points ---------------------------------------------------------------


def dropout_nets(course: str) -> Spec:
    return just(course_spec(course), *NETS)


def edited(tmp: Path, course: str, *edits: tuple[str, str], append: str = "") -> Path:
    spec = course_spec(course)
    skip_without(course)
    sub = patch(COURSES[course], tmp / "sub", spec, "fc_net", *edits)
    if append:
        path = sub / spec.student_modules["fc_net"]
        path.write_text(path.read_text() + textwrap.dedent(append))
    return sub


STORED = (
    (
        "        self.dropout_param = {}\n",
        "        self._drop = dropout_forward\n        self.dropout_param = {}\n",
    ),
    (CALL, CALL.replace("dropout_forward(", "self._drop(")),
)


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022"])
def test_a_net_holding_its_dropout_in_an_attribute_gets_the_masks(
    course: str, tmp_path: Path
) -> None:
    """The net keeps dropout_forward on the instance (bound before the masks are injected): the
    swapped code reaches it, so it is judged on the reference's masks, not by the fallback."""
    result = grade(edited(tmp_path, course, *STORED), dropout_nets(course), tmp_path)
    assert failures(result) == []
    assert not any(NOT_INJECTED in n for c in result.checks for n in c.notes)


def test_a_wrong_p_shows_in_the_loss_through_an_alias(tmp_path: Path) -> None:
    """An aliased call and a net passing 1 - keep: the loss with the injected uniforms names it."""
    sub = edited(
        tmp_path,
        "cs231n-2021",
        (CALL, CALL.replace("dropout_forward(", "_drop(")),
        ('"p": dropout_keep_ratio}', '"p": 1 - dropout_keep_ratio}'),
        append="\n_drop = dropout_forward\n",
    )
    checks = by_id(grade(sub, dropout_nets("cs231n-2021"), tmp_path))
    assert checks["fc_dropout_loss"].status == "failed"
    assert "flipped where the net builds dropout_param" in (
        checks["fc_dropout_loss"].diagnosis or ""
    )
    assert checks["fc_dropout_batchnorm_hidden"].status == "passed"  # keep 0.5: p = 1 - p


LAST_AFFINE = (
    'scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])'
)
ON_SCORES = (
    "\n        if self.use_dropout:"
    "\n            scores, _ = dropout_forward(scores, self.dropout_param)"
)
FORGED_RECORD = """
import sys
_injection = sys.modules["nngrader_child.injection"]
_injection.DropoutPatch.record = lambda self: {"calls": 2, "p": [0.75, 0.75]}
"""


@pytest.mark.parametrize(
    "mistake",
    [
        ('"p": dropout_keep_ratio}', '"p": 1 - dropout_keep_ratio}'),
        (LAST_AFFINE, LAST_AFFINE + ON_SCORES),
    ],
    ids=["flipped-p", "dropout-on-scores"],
)
def test_a_forged_record_changes_nothing(mistake: tuple[str, str], tmp_path: Path) -> None:
    """The record says two calls with the course's p; the loss says otherwise, and decides."""
    spec = dropout_nets("cs231n-2021")
    honest = grade(edited(tmp_path / "a", "cs231n-2021", mistake), spec, tmp_path / "a")
    sub = edited(tmp_path / "b", "cs231n-2021", mistake)
    layers = sub / spec.student_modules["layers"]
    layers.write_text(layers.read_text() + FORGED_RECORD)
    forged = grade(sub, spec, tmp_path / "b")
    assert forged.score <= honest.score
    assert by_id(forged)["fc_dropout_loss"].status == "failed"


OWN = """

import numpy as np


def _own_dropout(x, dropout_param):
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if dropout_param["mode"] != "train":
        return x, (dropout_param, None)
    keep = {keep}
    mask = (np.random.rand(*x.shape) < keep) / keep
    return x * mask, (dropout_param, mask)
"""
INLINED = (CALL, CALL.replace("dropout_forward(", "_own_dropout("))


def test_the_fallback_requires_every_gradient(tmp_path: Path) -> None:
    sub = edited(
        tmp_path,
        "cs231n-2021",
        INLINED,
        ("        return loss, grads\n", '        grads.pop("b1")\n        return loss, grads\n'),
        append=OWN.format(keep='dropout_param["p"]'),
    )
    checks = by_id(grade(sub, dropout_nets("cs231n-2021"), tmp_path))
    for check_id in NETS:
        failed = {c.name for c in checks[check_id].comparisons if not c.passed}
        assert "grads keys" in failed, (check_id, failed)
        assert any(NOT_INJECTED in note for note in checks[check_id].notes)


def test_the_fallback_checks_values_where_no_mask_matters(tmp_path: Path) -> None:
    """Summed instead of averaged, with matching gradients: self-consistent, and wrong."""
    sub = edited(
        tmp_path,
        "cs231n-2021",
        INLINED,
        (
            "        return loss, grads\n",
            "        n = X.shape[0]\n"
            "        return loss * n, {k: v * n for k, v in grads.items()}\n",
        ),
        append=OWN.format(keep='dropout_param["p"]'),
    )
    checks = by_id(grade(sub, dropout_nets("cs231n-2021"), tmp_path))
    for check_id in NETS:
        failed = {c.name for c in checks[check_id].comparisons if not c.passed}
        assert "dead units: loss" in failed, (check_id, failed)
        assert not any(name.endswith("vs numeric") for name in failed), failed


def test_the_fallback_accepts_a_net_reseeding_with_its_own_seed(tmp_path: Path) -> None:
    """The net keeps its seed outside dropout_param: every probe call repeats one mask."""
    sub = edited(
        tmp_path,
        "cs231n-2021",
        INLINED,
        ('self.dropout_param["seed"] = seed', "self.own_seed = seed"),
        append=OWN.format(keep='dropout_param["p"]').replace(
            'if "seed" in dropout_param:\n        np.random.seed(dropout_param["seed"])',
            "np.random.seed(123)",
        ),
    )
    result = grade(sub, dropout_nets("cs231n-2021"), tmp_path)
    assert failures(result) == []


def test_the_fallback_credits_a_true_flip_under_the_credit_policy(tmp_path: Path) -> None:
    spec = course_spec("cs231n-2021")
    lenient = replace(spec, api=replace(spec.api, flip_policy="credit"))
    sub = edited(tmp_path, "cs231n-2021", INLINED, append=OWN.format(keep='1 - dropout_param["p"]'))
    result = grade(sub, just(lenient, *NETS), tmp_path)
    assert failures(result) == []
    assert any("flip accepted" in n for n in by_id(result)["fc_dropout_loss"].notes)
    strict = by_id(grade(sub, dropout_nets("cs231n-2021"), tmp_path / "strict"))
    assert strict["fc_dropout_loss"].status == "failed"


# -- the layer: masks that are not random --------------------------------------------------------

LAYER = """
import numpy as np
_calls = [0]
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    keep = {keep}
    if mode != "train":
        return x, (dropout_param, None)
    _calls[0] += 1
    {body}
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
"""
NOT_RANDOM = {
    "fixed": (
        "mask = ((np.arange(x.size) * 7919) % 1000 < keep * 1000).reshape(x.shape) / keep",
        {"unseeded calls differ", "seeds change the mask"},
    ),
    "constant seed": (
        "np.random.seed(7)\n    mask = (np.random.rand(*x.shape) < keep) / keep",
        {"unseeded calls differ", "seeds change the mask"},
    ),
    "no seed": (
        "mask = (np.random.rand(*x.shape) < keep) / keep",
        {"seeded calls reproducible"},
    ),
    "whole rows": (
        "np.random.seed(dropout_param.get('seed'))\n"
        "    mask = (np.random.rand(x.shape[0], 1) < keep) * np.ones(x.shape) / keep",
        set(),
    ),
    "same count per row": (
        "np.random.seed(dropout_param.get('seed'))\n"
        "    k = int(round(keep * x.shape[1]))\n"
        "    mask = np.stack([np.random.permutation(x.shape[1]) < k for _ in x]) / keep",
        set(),
    ),
}


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022"])
@pytest.mark.parametrize("mask", list(NOT_RANDOM))
def test_a_mask_that_is_not_random_fails_dropout_forward(
    course: str, mask: str, tmp_path: Path
) -> None:
    spec = course_spec(course)
    skip_without(course)
    body, named = NOT_RANDOM[mask]
    keep = "p" if spec.api.dropout_p == "keep" else "1 - p"
    sub = plant(
        COURSES[course], tmp_path / "sub", spec, "layers", LAYER.format(keep=keep, body=body)
    )
    check = by_id(grade(sub, just(spec, "dropout_forward"), tmp_path))["dropout_forward"]
    failed = {c.name for c in check.comparisons if not c.passed}
    assert check.status == "failed" and named <= failed, failed
    if not named:  # the statistics catch it: rows or columns correlated beyond chance
        assert any(name.endswith(("random rows", "random columns")) for name in failed), failed
