"""Attacks on the dropout checks (issue 10, findings 2-4), graded under bwrap (see conftest.py).

Three classes, each attack asserting that it gains nothing:

* fallback forgery: a dropout net that dodges the injected masks and then forges the numeric
  gradient, returns only the gradients it likes, or is wrong but self-consistent;
* child records: the child's record of dropout calls (how many, which ``p``) rewritten to hide
  a wrong ``p``, a surplus dropout layer, or to claim the injection was never reached;
* non-random masks: a ``dropout_forward`` whose mask ignores the RNG or the seed, or has rows
  and columns correlated beyond chance.

Finding-2 attacks are planted in the base (its softmax loss is wrong, so no dropout net may
score). The record attacks need a net that would pass but for the one mistake the record hides,
so they start from the base with softmax fixed and compare with the same code without the patch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.conftest import BASE, ROOT, Graded, Hostile, make_submission

pytestmark = pytest.mark.sandbox

NETS = ("fc_dropout_loss", "fc_dropout_batchnorm_hidden")
FC_NET = "cs231n/classifiers/fc_net.py"
LAYERS = "cs231n/layers.py"
CALL = "h, drop_cache = dropout_forward(h, self.dropout_param)"
LAST_AFFINE = (
    'scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])'
)
RETURN = "        return loss, grads\n"

HARNESS = '''
import sys as _nng_sys
_nng_h = _nng_sys.modules["nngrader_child.harness"]
_nng_serve = _nng_sys._getframe()
while _nng_serve is not None and _nng_serve.f_code.co_name != "serve":
    _nng_serve = _nng_serve.f_back
_nng_ops = _nng_serve.f_locals["ops"] if _nng_serve is not None else {}
_nng_self = _nng_serve.f_locals.get("harness") if _nng_serve is not None else None


def _nng_patch(name, make):
    """Replace an op on the class and in the running request loop (make: old op -> new op)."""
    old = _nng_ops.get(name) or (lambda req: None)
    new = make(old)
    setattr(_nng_h.Harness, "op_" + name, lambda self, req: new(req))
    _nng_ops[name] = new
    print("NNG-PATCHED", name)
'''

FORGED_NUMGRAD = """
def _nng_numgrad(old):
    def numgrad(req):
        wrt = req.get("wrt", {})
        fn = _nng_self.target(req["fn"]) if _nng_self is not None else None
        if "obj" in wrt and getattr(fn, "__name__", "") == "loss":
            # The "numeric" gradient is the net's own analytic one.
            return _nng_h.np.asarray(fn(*req["args"])[1][wrt["key"]], dtype=float)
        return old(req)
    return numgrad
_nng_patch("numgrad", _nng_numgrad)
"""

OWN_DROPOUT = """

import numpy as _nng_np


def _nng_own_dropout(x, dropout_param):
    # The net's own dropout: not the student's dropout_forward, so no mask can be injected.
    if "seed" in dropout_param:
        _nng_np.random.seed(dropout_param["seed"])
    if dropout_param["mode"] != "train":
        return x, (dropout_param, None)
    mask = _nng_np.random.binomial(1, dropout_param["p"], size=x.shape) / dropout_param["p"]
    return x * mask, (dropout_param, mask)
"""


def fc_net(*edits: tuple[str, str], append: str = "") -> str:
    """The base's fc_net.py with text replaced (each edit must apply) and code appended."""
    text = (BASE / FC_NET).read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text + append


def fixed_softmax_layers(append: str = "") -> str:
    """The base's layers.py with its one mistake (the softmax loss not averaged) fixed."""
    text = (ROOT / "examples" / "cs231n-2021" / "correct" / LAYERS).read_text()
    return text + append


def failed_comparisons(doc: Graded, check_id: str) -> set[str]:
    return {c["name"] for c in doc.test(check_id)["extra_data"]["comparisons"] if not c["passed"]}


def nets_earn_nothing(doc: Graded) -> None:
    for check_id in NETS:
        assert doc.test(check_id)["score"] == 0, (check_id, doc.message(check_id))


# -- class 1: forging what the fallback judged by (finding 2) ------------------------------------


def test_aliased_dropout_with_a_forged_numeric_gradient(hostile: Hostile) -> None:
    """The net calls dropout_forward under an alias (once enough to dodge the masks) and the
    harness's numgrad answers with the net's own gradients: the alias is injected all the same,
    and the loss (not averaged) is compared with the reference's."""
    doc = hostile.attack(
        at_end=HARNESS + FORGED_NUMGRAD,
        files={
            FC_NET: fc_net(
                (CALL, CALL.replace("dropout_forward(", "_nng_drop(")),
                (
                    "from ..layers import *\n",
                    "from ..layers import *\nfrom ..layers import dropout_forward as _nng_drop\n",
                ),
            )
        },
    )
    assert "NNG-PATCHED numgrad" in doc.log
    nets_earn_nothing(doc)
    assert "loss" in failed_comparisons(doc, "fc_dropout_loss")
    assert "could not be injected" not in doc.message("fc_dropout_loss")


def test_inlined_dropout_returning_only_the_gradients_it_likes(hostile: Hostile) -> None:
    """The net's own dropout (no injection possible), a forged numgrad, and grads without the
    first layer's entries: the fallback requires every parameter's gradient and checks the loss
    where no mask matters."""
    doc = hostile.attack(
        at_end=HARNESS + FORGED_NUMGRAD,
        files={
            FC_NET: fc_net(
                (CALL, CALL.replace("dropout_forward(", "_nng_own_dropout(")),
                (
                    RETURN,
                    '        if self.use_dropout:\n            grads.pop("W1")\n'
                    '            grads.pop("b1")\n' + RETURN,
                ),
                append=OWN_DROPOUT,
            )
        },
    )
    nets_earn_nothing(doc)
    failed = failed_comparisons(doc, "fc_dropout_loss")
    assert {"grads keys", "dead units: loss"} <= failed, failed


def test_inlined_dropout_wrong_but_self_consistent(hostile: Hostile) -> None:
    """No harness patch: the net's own dropout, and gradients scaled to match its summed (not
    averaged) loss, so every numeric difference agrees; the loss is still wrong."""
    doc = hostile.attack(
        files={
            FC_NET: fc_net(
                (CALL, CALL.replace("dropout_forward(", "_nng_own_dropout(")),
                (
                    RETURN,
                    "        if self.use_dropout:\n"
                    "            grads = {k: v * X.shape[0] for k, v in grads.items()}\n" + RETURN,
                ),
                append=OWN_DROPOUT,
            )
        },
    )
    nets_earn_nothing(doc)
    failed = failed_comparisons(doc, "fc_dropout_loss")
    assert "dead units: loss" in failed, failed
    assert not any(name.endswith("vs numeric") for name in failed), failed


# -- class 2: rewriting the child's records (finding 3) ------------------------------------------

FLIPPED_P = (
    '"p": dropout_keep_ratio}',
    '"p": 1 - dropout_keep_ratio}',
)
ON_SCORES = (
    LAST_AFFINE,
    LAST_AFFINE + "\n        if self.use_dropout:\n"
    "            scores, _ = dropout_forward(scores, self.dropout_param)",
)


def graded_pair(hostile: Hostile, fc_net_text: str, record_patch: str) -> tuple[Graded, Graded]:
    """The same wrong net without and with a patch of the child's dropout record."""
    plain = make_submission(
        hostile.tmp / "plain", files={LAYERS: fixed_softmax_layers(), FC_NET: fc_net_text}
    )
    attacked = make_submission(
        hostile.tmp / "attacked",
        files={LAYERS: fixed_softmax_layers(HARNESS + record_patch), FC_NET: fc_net_text},
    )
    without, with_patch = hostile.grade(plain, attacked)
    assert "NNG-PATCHED dropout_calls" in with_patch.log
    assert with_patch.score <= without.score, (with_patch.score, without.score)
    return without, with_patch


def test_a_rewritten_record_hides_a_flipped_p(hostile: Hostile) -> None:
    """The net passes 1 - keep; the record is rewritten to show the p the course expects."""
    patch = """
def _nng_record(old):
    def record(req):
        found = old(req)
        found["p"] = [1 - p for p in found["p"]]
        return found
    return record
_nng_patch("dropout_calls", _nng_record)
"""
    without, attacked = graded_pair(hostile, fc_net(FLIPPED_P), patch)
    for doc in (without, attacked):
        assert doc.status("fc_dropout_loss") == "failed", doc.message("fc_dropout_loss")
        assert "loss" in failed_comparisons(doc, "fc_dropout_loss")
        assert "flipped where the net builds dropout_param" in doc.message("fc_dropout_loss")


def test_a_rewritten_record_hides_dropout_on_the_scores(hostile: Hostile) -> None:
    """The net also drops out its scores; the record is rewritten to show one call per hidden
    layer."""
    patch = """
def _nng_record(old):
    def record(req):
        found = old(req)
        found["calls"] = min(found["calls"], 2)
        found["p"] = found["p"][:2]
        return found
    return record
_nng_patch("dropout_calls", _nng_record)
"""
    without, attacked = graded_pair(hostile, fc_net(ON_SCORES), patch)
    for doc in (without, attacked):
        nets_earn_nothing(doc)
        assert "after the last affine" in doc.message("fc_dropout_loss")


def test_a_rewritten_record_claims_the_masks_were_never_used(hostile: Hostile) -> None:
    """A net passing 1 - keep says it never reached the injected dropout, hoping for a milder
    judge: the fallback's own comparisons fail it."""
    patch = """
_nng_patch("dropout_calls", lambda old: (lambda req: {"calls": 0, "p": []}))
"""
    _, attacked = graded_pair(hostile, fc_net(FLIPPED_P), patch)
    assert attacked.status("fc_dropout_loss") == "failed"
    assert "could not be injected" in attacked.message("fc_dropout_loss")


# -- class 3: masks that are not random (finding 4) ----------------------------------------------

NOT_RANDOM = {
    # A fixed arithmetic pattern: no RNG, no seed.
    "fixed-pattern": """
import numpy as _nng_np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode != "train":
        return x, (dropout_param, None)
    mask = ((_nng_np.arange(x.size) * 7919) % 1000 < p * 1000).reshape(x.shape) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
""",
    # The RNG, reseeded with a constant at every call.
    "constant-reseed": """
import numpy as _nng_np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode != "train":
        return x, (dropout_param, None)
    _nng_np.random.seed(0)
    mask = (_nng_np.random.rand(*x.shape) < p) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
""",
    # One random row, rolled by one unit per row: random-looking, but every column keeps alike.
    "rolled-rows": """
import numpy as _nng_np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        _nng_np.random.seed(dropout_param["seed"])
    if mode != "train":
        return x, (dropout_param, None)
    row = _nng_np.random.rand(x.shape[-1]) < p
    mask = _nng_np.stack([_nng_np.roll(row, i) for i in range(x.shape[0])]) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
""",
    # Arithmetic in the seed (or a call counter without one): reproducible, changes with the
    # seed and between calls, yet every row keeps the same number of units.
    "seeded-pattern": """
import numpy as _nng_np
_nng_calls = [0]
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode != "train":
        return x, (dropout_param, None)
    _nng_calls[0] += 1
    s = dropout_param.get("seed", _nng_calls[0])
    i, j = _nng_np.indices(x.shape)
    mask = ((i * 37 + j * 11 + s * 7) % 100 < p * 100) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
""",
    # The RNG without the seed: calls differ, but a seeded call cannot be reproduced.
    "ignores-seed": """
import numpy as _nng_np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode != "train":
        return x, (dropout_param, None)
    mask = (_nng_np.random.rand(*x.shape) < p) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)
""",
}
CAUGHT_BY = {
    "fixed-pattern": {"unseeded calls differ", "seeds change the mask", "p=0.25 random columns"},
    "constant-reseed": {"unseeded calls differ", "seeds change the mask"},
    "rolled-rows": {"p=0.25 random rows", "p=0.25 random columns"},
    "seeded-pattern": {"p=0.25 random rows", "p=0.25 random columns"},
    "ignores-seed": {"seeded calls reproducible"},
}


@pytest.mark.parametrize("mask", list(NOT_RANDOM))
def test_a_mask_that_is_not_random_loses_dropout_forward(hostile: Hostile, mask: str) -> None:
    doc = hostile.attack(at_end=NOT_RANDOM[mask])
    assert doc.status("dropout_forward") == "failed", doc.message("dropout_forward")
    assert doc.test("dropout_forward")["score"] == 0
    failed = failed_comparisons(doc, "dropout_forward")
    assert CAUGHT_BY[mask] <= failed, failed
    assert doc.score < hostile.base  # the base's dropout_forward is correct


def test_the_attacks_are_planted_where_they_are_run() -> None:
    """The edits these attacks make still apply to the base (a changed base fails here first)."""
    fc_net((CALL, CALL), (LAST_AFFINE, LAST_AFFINE), (RETURN, RETURN), FLIPPED_P)
    assert (BASE / LAYERS).is_file() and Path(
        ROOT / "examples" / "cs231n-2021" / "correct"
    ).is_dir()
