"""Known mistakes are diagnosed by name and cost exactly the checks that use them; valid
variations are not.

Each case plants one student-style mistake in the bundled correct example of every course where
the function is student work (a function written the wrong way, appended to the module so that
it replaces the right one, or one edited line) and asserts two things: the target check names
the mistake, and the set of checks that lose points is exactly the one the spec implies — the
mistaken function's checks and the checks that use its output, derived from the spec's subjects
and ``depends`` by the helpers in ``planting.py``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from grader.checks.dropout import FLIPPED
from grader.results import SubmissionResult
from grader.spec import Check, Spec
from tests.grader.planting import (
    COURSES,
    bn_net,
    by_id,
    course_spec,
    dependents,
    dropout_net,
    failures,
    grade,
    lost,
    of,
    own_dropout,
    patch,
    plant,
    regularized,
    skip_without,
    students,
    uses,
)

pytestmark = pytest.mark.slow

Expect = Callable[[Spec], set[str]]


def graded(
    course: str | Spec, tmp: Path, module: str, code: str, *, only: str | None = None
) -> SubmissionResult:
    """Grade the course's correct example with ``code`` appended to one student module."""
    spec = course_spec(course) if isinstance(course, str) else course
    name = spec.id
    skip_without(name)
    sub = plant(COURSES[name], tmp / "sub", spec, module, code)
    return grade(sub, spec, tmp, only=only or module)


def assert_mistake(result: SubmissionResult, expected: set[str], diagnoses: dict[str, str]) -> None:
    """Exactly ``expected`` lose points, and each check in ``diagnoses`` names the mistake."""
    assert expected, "a planted mistake must cost something"
    assert lost(result) == expected, failures(result)
    checks = by_id(result)
    for check_id, words in diagnoses.items():
        diagnosis = checks[check_id].diagnosis
        assert diagnosis and words in diagnosis, (check_id, checks[check_id].message, diagnosis)


# -- dropout --------------------------------------------------------------------------------------

# Dropout written the student's way; MASK and TEST are filled in per mistake. `keep` is the keep
# probability under the course's meaning of p.
DROPOUT = """
import numpy as np
def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])
    keep = {keep}
    mask = None
    if mode == 'train':
        mask = {mask}
        out = x * mask
    else:
        out = {test}
    return out.astype(x.dtype, copy=False), (dropout_param, mask)
def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param['mode'] == 'train' else dout
"""


def dropout_code(spec: Spec, mask: str, test: str = "x", keep: str | None = None) -> str:
    return DROPOUT.format(
        keep=keep or ("p" if spec.api.dropout_p == "keep" else "1 - p"), mask=mask, test=test
    )


# (mask, test-mode output, words of the diagnosis)
DROPOUT_MISTAKES = {
    # Seed 002 (variants.md §4.4): zero with probability p, rescale by 1/p, whatever p means.
    "seed 002": (
        "(np.random.rand(*x.shape) >= p) / p",
        "x",
        "zeroed with probability p and the kept ones rescaled by 1/p",
    ),
    "no inverted scaling": ("(np.random.rand(*x.shape) < keep)", "x", "no inverted scaling"),
    "keep and drop flipped": ("(np.random.rand(*x.shape) < 1 - keep) / (1 - keep)", "x", FLIPPED),
    "one mask for the batch": (
        "(np.random.rand(1, x.shape[1]) < keep) / keep",
        "x",
        "shared by the whole batch",
    ),
    "rand < p / p": ("(np.random.rand(*x.shape) < p / p)", "x", "operator precedence"),
    "scaled at test time": ("(np.random.rand(*x.shape) < keep) / keep", "x * keep", "test time"),
}


@pytest.mark.parametrize("course", students("dropout_forward"))
@pytest.mark.parametrize("mistake", list(DROPOUT_MISTAKES))
def test_dropout_mistakes(tmp_path: Path, course: str, mistake: str) -> None:
    """Only dropout_forward pays: the backward uses the forward's own mask, and the nets get
    injected masks (the notebooks' checks behave the same way)."""
    mask, test, words = DROPOUT_MISTAKES[mistake]
    spec = course_spec(course)
    result = graded(spec, tmp_path, "layers", dropout_code(spec, mask, test))
    assert_mistake(result, of(spec, "dropout_forward"), {"dropout_forward": words})


def test_seed_002_dropout_in_its_own_course(tmp_path: Path) -> None:
    """The exact printout of seed 002 (UCLA 239AS, p = drop): fraction of zeros ≈ p, mean ≈ x/p."""
    spec = course_spec("ucla-ece239as-2018")
    assert spec.api.dropout_p == "drop"
    result = graded(
        spec, tmp_path, "layers", dropout_code(spec, "(np.random.rand(*x.shape) >= p) / p")
    )
    assert_mistake(result, {"dropout_forward"}, {"dropout_forward": "the mean is not preserved"})
    assert FLIPPED not in (by_id(result)["dropout_forward"].diagnosis or "")


# A dropout that reads p as the drop probability (UCLA's meaning).
DROP_MEANING = ("(np.random.rand(*x.shape) < keep) / keep", "x", "1 - p")


def test_drop_probability_dropout_is_a_flip_in_cs231n_2021(tmp_path: Path) -> None:
    spec = course_spec("cs231n-2021")
    result = graded(spec, tmp_path, "layers", dropout_code(spec, *DROP_MEANING))
    assert_mistake(result, {"dropout_forward"}, {"dropout_forward": FLIPPED})


def test_drop_probability_dropout_passes_where_p_is_the_drop_probability(tmp_path: Path) -> None:
    spec = course_spec("ucla-c147-2022")
    result = graded(spec, tmp_path, "layers", dropout_code(spec, *DROP_MEANING))
    assert failures(result) == []


def lenient(course: str) -> Spec:
    spec = course_spec(course)
    return replace(spec, api=replace(spec.api, flip_policy="credit"))


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022"])
def test_flip_policy_credit_accepts_a_true_flip_everywhere(tmp_path: Path, course: str) -> None:
    """dropout_forward, dropout_backward and the dropout nets all score under the credit policy."""
    spec = lenient(course)
    mask, test, _ = DROPOUT_MISTAKES["keep and drop flipped"]
    result = graded(spec, tmp_path, "layers", dropout_code(spec, mask, test))
    assert failures(result) == []
    checks = by_id(result)
    assert any("accepted" in note for note in checks["dropout_forward"].notes)
    assert {"dropout_backward"} | of(spec, "FullyConnectedNet", where=dropout_net) <= set(checks)


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022"])
def test_flip_policy_credit_never_credits_seed_002(tmp_path: Path, course: str) -> None:
    spec = lenient(course)
    result = graded(
        spec, tmp_path, "layers", dropout_code(spec, "(np.random.rand(*x.shape) >= p) / p")
    )
    assert_mistake(result, {"dropout_forward"}, {"dropout_forward": "the mean is not preserved"})
    dropout = by_id(result)["dropout_forward"]
    assert not any("accepted" in text for text in (dropout.message, *dropout.notes))


def test_flip_policy_credit_covers_a_net_whose_dropout_cannot_be_replaced(tmp_path: Path) -> None:
    """The net calls its own copy of the (flipped) dropout, so no masks are injected."""
    spec = lenient("cs231n-2021")
    skip_without(spec.id)
    mask, test, _ = DROPOUT_MISTAKES["keep and drop flipped"]
    sub = own_dropout(COURSES[spec.id], tmp_path / "sub", spec)
    layers = sub / spec.student_modules["layers"]
    layers.write_text(layers.read_text() + textwrap.dedent(dropout_code(spec, mask, test)))
    result = grade(sub, spec, tmp_path, only="layers")
    assert failures(result) == []


# -- batch normalization -------------------------------------------------------------------------

# Batchnorm with its own cache; each field is filled in per mistake.
BATCHNORM = """
import numpy as np
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param['mode']
    eps, m = bn_param.get('eps', 1e-5), bn_param.get('momentum', 0.9)
    rm = bn_param.get('running_mean', np.zeros(x.shape[1]))
    rv = bn_param.get('running_var', np.zeros(x.shape[1]))
    cache = None
    if mode == 'train' or {test_uses_batch}:
        mu, var = x.mean(axis=0), {var}
        xh = (x - mu) / np.sqrt(var + eps)
        out = gamma * xh + beta
        cache = (xh, gamma, np.sqrt(var + eps))
        if mode == 'train':
            rm, rv = {rm}, {rv}
    else:
        out = gamma * (x - rm) / np.sqrt(rv + eps) + beta
    bn_param['running_mean'], bn_param['running_var'] = rm, rv
    return out, cache
def batchnorm_backward(dout, cache):
    xh, gamma, std = cache
    dxh = dout * gamma
    dx = {dx}
    return dx, {dgamma}, {dbeta}
batchnorm_backward_alt = batchnorm_backward
"""
BN_OK = dict(
    test_uses_batch="False",
    var="x.var(axis=0)",
    rm="m * rm + (1 - m) * mu",
    rv="m * rv + (1 - m) * var",
    dx="(dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / std",
    dgamma="(dout * xh).sum(axis=0)",
    dbeta="dout.sum(axis=0)",
)


def in_test_mode(check: Check) -> bool:
    return "warmup" in check.params or check.params.get("mode") == "test"


def running_stats_nets(spec: Spec) -> Callable[[Check], bool]:
    """Batchnorm nets whose test-mode scores use the running statistics (not under the starter
    line)."""
    return lambda c: bn_net(c) and spec.api.bn_mode_line != "starter"


def after_running_stats(spec: Spec) -> set[str]:
    """A mistake in the running statistics: the forward checks and the nets' test-mode scores."""
    own = of(spec, "batchnorm_forward")
    return own | dependents(spec, own, where=running_stats_nets(spec))


def after_test_mode(spec: Spec) -> set[str]:
    """Test mode with batch statistics: what the starter line does, so only 'fixed' nets notice."""
    return of(spec, "batchnorm_forward", where=in_test_mode) | of(
        spec, "FullyConnectedNet", where=lambda c: bn_net(c) and spec.api.bn_mode_line == "fixed"
    )


def after_backward(spec: Spec) -> set[str]:
    # The planted batchnorm_backward_alt is the same function.
    return uses(spec, "batchnorm_backward", "batchnorm_backward_alt")


# field changes, expected losses, {check: words of its diagnosis}
BN_MISTAKES: dict[str, tuple[dict[str, str], Expect, dict[str, str]]] = {
    "unbiased variance": (
        {"var": "x.var(axis=0, ddof=1)"},
        lambda s: uses(s, "batchnorm_forward"),
        {"batchnorm_forward_train": "unbiased", "batchnorm_forward_test": "unbiased"},
    ),
    "unbiased running variance only": (
        {"rv": "m * rv + (1 - m) * x.var(axis=0, ddof=1)"},
        after_running_stats,
        {"batchnorm_forward_train": "PyTorch", "batchnorm_forward_test": "unbiased"},
    ),
    "running momentum swapped": (
        {"rm": "(1 - m) * rm + m * mu", "rv": "(1 - m) * rv + m * var"},
        after_running_stats,
        {"batchnorm_forward_train": "momentum", "batchnorm_forward_test": "momentum"},
    ),
    "running stats not updated": (
        {"rm": "rm", "rv": "rv"},
        after_running_stats,
        {"batchnorm_forward_train": "not updated", "batchnorm_forward_test": "not updated"},
    ),
    "test mode uses batch stats": (
        {"test_uses_batch": "True"},
        after_test_mode,
        {"batchnorm_forward_test": "batch statistics"},
    ),
    "dx misses the variance term": (
        {"dx": "(dxh - dxh.mean(axis=0)) / std"},
        after_backward,
        {"batchnorm_backward": "through the variance"},
    ),
    "dx misses the mean term": (
        {"dx": "(dxh - xh * (dxh * xh).mean(axis=0)) / std"},
        after_backward,
        {"batchnorm_backward": "through the mean"},
    ),
    "dgamma on the wrong axis": (
        {"dgamma": "(dout * xh).sum(axis=1)"},
        after_backward,
        {"batchnorm_backward": "dgamma is summed over the wrong axis"},
    ),
    "dbeta on the wrong axis": (
        {"dbeta": "dout.sum(axis=1)"},
        after_backward,
        {"batchnorm_backward": "dbeta is summed over the wrong axis"},
    ),
}


@pytest.mark.parametrize("course", students("batchnorm_forward"))
@pytest.mark.parametrize("mistake", list(BN_MISTAKES))
def test_batchnorm_mistakes(tmp_path: Path, course: str, mistake: str) -> None:
    change, expected, diagnoses = BN_MISTAKES[mistake]
    spec = course_spec(course)
    result = graded(spec, tmp_path, "layers", BATCHNORM.format(**{**BN_OK, **change}))
    assert_mistake(result, expected(spec), diagnoses)


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_planted_batchnorm_without_mistake_passes(tmp_path: Path, course: str) -> None:
    result = graded(course, tmp_path, "layers", BATCHNORM.format(**BN_OK))
    assert failures(result) == []


# -- update rules ---------------------------------------------------------------------------------

ADAM = """
import numpy as np
def adam(w, dw, config=None):
    config = {} if config is None else config
    for k, v in (('learning_rate', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('epsilon', 1e-8), ('t', T0)):
        config.setdefault(k, v)
    config.setdefault('M', np.zeros_like(w))
    config.setdefault('V', np.zeros_like(w))
    b1, b2 = config['beta1'], config['beta2']
BODY
    return next_w, config
"""  # noqa: E501
ADAM_OK = """
t = config['t'] + 1
m = b1 * config['M'] + (1 - b1) * dw
v = b2 * config['V'] + (1 - b2) * dw ** 2
next_w = w - config['learning_rate'] * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + config['epsilon'])
config['M'], config['V'], config['t'] = m, v, t
"""  # noqa: E501
NO_BIAS_CORRECTION = [("(m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t))", "m / (np.sqrt(v)")]


def adam_code(spec: Spec, changes: Sequence[tuple[str, str]] = ()) -> str:
    """The student's adam, with the course's state keys and default t."""
    body = ADAM_OK
    for old, new in changes:
        assert old in body
        body = body.replace(old, new)
    keys = spec.api.state_keys
    code = ADAM.replace("BODY", textwrap.indent(textwrap.dedent(body).strip(), "    "))
    return (
        code.replace("'M'", repr(keys["m"]))
        .replace("'V'", repr(keys["v"]))
        .replace("T0", str(spec.api.adam_t_default))
    )


def with_training(spec: Spec, rule: str) -> set[str]:
    """A rule that no longer descends also costs the training check that uses it."""
    own = of(spec, rule)
    return own | dependents(spec, own)


ADAM_MISTAKES: dict[str, tuple[list[tuple[str, str]], Expect, str]] = {
    # Two students in our notes did this; their notebooks printed next_w error 0.207. Its steps are
    # only larger early on, so the net still trains: the training check keeps its points.
    "without bias correction": (
        NO_BIAS_CORRECTION,
        lambda s: of(s, "adam"),
        "without bias correction",
    ),
    # From a fresh config at the default t = 0 its first bias correction divides by zero, so
    # training fails too; with 2017's default t = 1 (variants.md §3.5) the net still trains.
    "t incremented after use": (
        [("t = config['t'] + 1", "t = config['t']"), ("= m, v, t", "= m, v, t + 1")],
        lambda s: with_training(s, "adam") if s.api.adam_t_default == 0 else of(s, "adam"),
        "incremented after",
    ),
    "moments swapped": (
        [("= m, v, t", "= v, m, t")],
        lambda s: with_training(s, "adam"),
        "swapped",
    ),
}


@pytest.mark.parametrize("course", students("adam"))
@pytest.mark.parametrize("mistake", list(ADAM_MISTAKES))
def test_adam_mistakes(tmp_path: Path, course: str, mistake: str) -> None:
    changes, expected, words = ADAM_MISTAKES[mistake]
    spec = course_spec(course)
    result = graded(spec, tmp_path, "optim", adam_code(spec, changes))
    assert_mistake(result, expected(spec), {"adam": words})


@pytest.mark.parametrize("course", students("adam"))
def test_adam_without_bias_correction_replays_the_students_printed_error(
    tmp_path: Path, course: str
) -> None:
    """The notebooks' rel_error of next_w on the §1.3 fixture was 0.207 for these students."""
    spec = course_spec(course)
    check = by_id(graded(spec, tmp_path, "optim", adam_code(spec, NO_BIAS_CORRECTION)))["adam"]
    next_w = next(c for c in check.comparisons if c.name == "next_w")
    assert not next_w.passed and next_w.max_rel_err == pytest.approx(0.207, abs=5e-4)
    assert check.diagnosis and "without bias correction" in check.diagnosis


@pytest.mark.parametrize("course", students("adam"))
def test_adam_written_the_students_way_passes(tmp_path: Path, course: str) -> None:
    spec = course_spec(course)
    assert failures(graded(spec, tmp_path, "optim", adam_code(spec))) == []


MOMENTUM_OTHER_CONVENTION = """
import numpy as np
def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config['momentum'] * config.get('velocity', np.zeros_like(w)) + dw
    config['velocity'] = v
    return w - config['learning_rate'] * v, config
"""


@pytest.mark.parametrize("course", students("sgd_momentum"))
def test_momentum_with_the_other_convention(tmp_path: Path, course: str) -> None:
    spec = course_spec(course)
    result = graded(spec, tmp_path, "optim", MOMENTUM_OTHER_CONVENTION)
    assert_mistake(
        result, with_training(spec, "sgd_momentum"), {"sgd_momentum": "other convention"}
    )


NESTEROV_AS_PLAIN_MOMENTUM = """
import numpy as np
def sgd_nesterov_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config['momentum'] * config.get('velocity', np.zeros_like(w)) - config['learning_rate'] * dw
    config['velocity'] = v
    return w + v, config
"""


@pytest.mark.parametrize("course", students("sgd_nesterov_momentum"))
def test_nesterov_written_as_plain_momentum(tmp_path: Path, course: str) -> None:
    spec = course_spec(course)
    result = graded(spec, tmp_path, "optim", NESTEROV_AS_PLAIN_MOMENTUM)
    assert_mistake(
        result,
        with_training(spec, "sgd_nesterov_momentum"),
        {"sgd_nesterov_momentum": "plain momentum"},
    )


def rmsprop_epsilon_inside(spec: Spec) -> str:
    key = repr(spec.api.state_keys["cache"])
    return f"""
    import numpy as np
    def rmsprop(w, dw, config=None):
        config = {{}} if config is None else config
        for k, v in (('learning_rate', 1e-2), ('decay_rate', 0.99), ('epsilon', 1e-8)):
            config.setdefault(k, v)
        s = config['decay_rate'] * config.get({key}, np.zeros_like(w)) + (1 - config['decay_rate']) * dw ** 2
        config[{key}] = s
        return w - config['learning_rate'] * dw / np.sqrt(s + config['epsilon']), config
    """  # noqa: E501


@pytest.mark.parametrize("course", students("rmsprop"))
def test_rmsprop_with_epsilon_inside_the_root_is_not_a_mistake(tmp_path: Path, course: str) -> None:
    """Seed 002's RMSProp (next_w error 9.50e-08, variants.md §1.3) is within tolerance: no
    diagnosis."""
    result = graded(course, tmp_path, "optim", rmsprop_epsilon_inside(course_spec(course)))
    assert failures(result) == []
    assert all(c.diagnosis is None for c in result.checks)


SOFTMAX_WITHOUT_SHIFT = """
import numpy as np
def softmax_loss(x, y):
    e = np.exp(x)
    probs = e / e.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n
"""


@pytest.mark.parametrize("course", students("softmax_loss"))
def test_softmax_without_max_shift_passes_with_an_advisory(tmp_path: Path, course: str) -> None:
    result = graded(course, tmp_path, "layers", SOFTMAX_WITHOUT_SHIFT)
    assert failures(result) == []
    assert all(c.diagnosis is None for c in result.checks)
    assert any("advisory" in note for note in by_id(result)["softmax_loss"].notes)


# -- nets -----------------------------------------------------------------------------------------

REG = """
import numpy as np
_reg_loss = NET.loss
def _loss(self, X, y=None):
    result = _reg_loss(self, X, y)
    if y is None:
        return result
    loss, grads = result
    for k, v in self.params.items():
        if WHICH:
            loss += 0.5 * self.reg * np.sum(v * v)
            grads[k] = grads[k] + self.reg * v
    return loss, grads
NET.loss = _loss
"""
# The correct example already adds 0.5*reg*W²; each mistake adds what the wrong code would.
REG_MISTAKES = {
    "no 0.5 factor": ("k.startswith('W')", "0.5 factor"),
    "biases regularized": ("not k.startswith('W')", "biases"),
}


@pytest.mark.parametrize(
    ("course", "net"),
    [(c, "FullyConnectedNet") for c in students("FullyConnectedNet")]
    + [(c, "TwoLayerNet") for c in students("TwoLayerNet")],
)
@pytest.mark.parametrize("mistake", list(REG_MISTAKES))
def test_regularization_mistakes(tmp_path: Path, course: str, mistake: str, net: str) -> None:
    """Only the nets with reg != 0 notice (their biases and gammas are perturbed away from 0/1)."""
    spec = course_spec(course)
    which, words = REG_MISTAKES[mistake]
    code = REG.replace("NET", spec.api.name(net)).replace("WHICH", which)
    result = graded(spec, tmp_path, "fc_net", code)
    expected = of(spec, net, where=regularized)
    assert_mistake(result, expected, {check_id: words for check_id in expected})


BN_IN_LAYER_UTILS = (
    """    if norm == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        a, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a)""",
    """    da = relu_backward(dout, relu_cache)
    if norm == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward(da, norm_cache)
    else:
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)""",
)
BN_AFTER_RELU = (
    """    if norm == "batchnorm":
        a, relu_cache = relu_forward(a)
        out, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        a, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
        out, relu_cache = relu_forward(a)""",
    """    if norm == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward(dout, norm_cache)
        da = relu_backward(da, relu_cache)
    else:
        da = relu_backward(dout, relu_cache)
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)""",
)

LAST_AFFINE = """        scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])"""  # noqa: E501
SOFTMAX_CALL = """        loss, dscores = softmax_loss(scores, y)"""


def net_patch(
    course: str, tmp: Path, module: str, *edits: tuple[str, str]
) -> tuple[Spec, SubmissionResult]:
    spec = course_spec(course)
    skip_without(course)
    return spec, grade(
        patch(COURSES[course], tmp / "sub", spec, module, *edits), spec, tmp, only=module
    )


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_batchnorm_after_the_relu(tmp_path: Path, course: str) -> None:
    spec, result = net_patch(
        course, tmp_path, "layer_utils", *zip(BN_IN_LAYER_UTILS, BN_AFTER_RELU, strict=True)
    )
    assert_mistake(
        result, of(spec, "FullyConnectedNet", where=bn_net), {"fc_batchnorm_loss": "after the ReLU"}
    )


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_batchnorm_after_the_last_affine(tmp_path: Path, course: str) -> None:
    spec, result = net_patch(
        course,
        tmp_path,
        "fc_net",
        (
            LAST_AFFINE,
            LAST_AFFINE
            + """
        if self.normalization == "batchnorm":
            C = scores.shape[1]
            scores, last_bn_cache = batchnorm_forward(scores, np.ones(C), np.zeros(C), {"mode": "train"})""",  # noqa: E501
        ),
        (
            SOFTMAX_CALL,
            SOFTMAX_CALL
            + """
        if getattr(self, "normalization", None) == "batchnorm":  # TwoLayerNet has the same line
            dscores, _, _ = batchnorm_backward(dscores, last_bn_cache)""",
        ),
    )
    assert_mistake(
        result,
        of(spec, "FullyConnectedNet", where=bn_net),
        {"fc_batchnorm_loss": "after the last affine"},
    )


@pytest.mark.parametrize("course", students("dropout_forward"))
def test_dropout_after_the_last_affine(tmp_path: Path, course: str) -> None:
    spec, result = net_patch(
        course,
        tmp_path,
        "fc_net",
        (
            LAST_AFFINE,
            LAST_AFFINE
            + """
        if self.use_dropout:
            scores, _ = dropout_forward(scores, self.dropout_param)""",
        ),
    )
    assert_mistake(
        result,
        of(spec, "FullyConnectedNet", where=dropout_net),
        {"fc_dropout_loss": "after the last affine"},
    )


# -- root causes the check actually ran (issue 11 §7) ---------------------------------------------

BN_OFF_BY_ONE = """
_right_batchnorm_forward = batchnorm_forward


def batchnorm_forward(x, gamma, beta, bn_param):
    out, cache = _right_batchnorm_forward(x, gamma, beta, bn_param)
    return out + 1.0, cache
"""


@pytest.mark.parametrize("net_runs_bn", [True, False], ids=["bn-net", "net-without-bn"])
def test_a_root_cause_is_named_only_when_the_failing_check_ran_it(
    tmp_path: Path, net_runs_bn: bool
) -> None:
    """batchnorm_forward is wrong; a net that never calls it fails for a reason of its own, and
    fixing batchnorm_forward would leave that failure: it is not named as the root cause."""
    course = "cs231n-2021"
    skip_without(course)
    spec = course_spec(course)
    ignore_bn = ("self.normalization = normalization", "self.normalization = None")
    edits = () if net_runs_bn else (ignore_bn,)
    sub = patch(COURSES[course], tmp_path / "sub", spec, "fc_net", *edits)
    layers = sub / spec.student_modules["layers"]
    layers.write_text(layers.read_text() + "\n\n" + BN_OFF_BY_ONE)
    checks = ("batchnorm_forward_train", "fc_loss", "fc_batchnorm_loss", "fc_batchnorm_loss_reg")
    only = replace(spec, checks=tuple(c for c in spec.checks if c.id in checks))
    result = by_id(grade(sub, only, tmp_path))
    assert result["batchnorm_forward_train"].status == "failed"
    assert result["fc_loss"].status == "passed"
    net = result["fc_batchnorm_loss"]
    assert net.status == "failed"
    assert net.root_cause == ("batchnorm_forward_train" if net_runs_bn else None)
    # The same net with regularization fails because the net does: that is named either way.
    assert result["fc_batchnorm_loss_reg"].root_cause == (
        "batchnorm_forward_train" if net_runs_bn else "fc_batchnorm_loss"
    )
