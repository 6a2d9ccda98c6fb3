"""Real submissions graded right (issue 11, §5-§7): a valid variant, one the course's own notebook
accepts, loses no point; each mistake students actually make is named, costs exactly the checks
that see it, and the same diagnosis never reaches a correct submission; every diagnosis matches
the evidence it is shown with.

Submissions are the bundled correct examples with one edited line or one appended function
(``tests/grader/planting.py``), graded in every course where the function is student work.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.checks.variants import EPS_OUTSIDE
from grader.results import SubmissionResult
from grader.spec import Check, Spec
from tests.bundled import BundledResults
from tests.grader.planting import (
    COURSES,
    bn_net,
    by_id,
    course_spec,
    dropout_net,
    failures,
    grade,
    grade_or_share,
    lost,
    of,
    patch,
    plant,
    regularized,
    skip_without,
    students,
    uses,
)

pytestmark = pytest.mark.slow

Expect = Callable[[Spec], set[str]]

TEST_LINE = "xn = (x - running_mean) / np.sqrt(running_var + eps)"
WRITE_BACK = (
    '    bn_param["running_mean"] = running_mean\n    bn_param["running_var"] = running_var\n'
)


def patched(course: str, tmp: Path, module: str, *edits: tuple[str, str]) -> SubmissionResult:
    """The course's correct example with ``edits`` in one module, graded on the checks that
    import it."""
    spec = course_spec(course)
    skip_without(course)
    return grade(patch(COURSES[course], tmp / "sub", spec, module, *edits), spec, tmp, only=module)


def appended(course: str, tmp: Path, module: str, code: str) -> SubmissionResult:
    spec = course_spec(course)
    skip_without(course)
    sub = plant(COURSES[course], tmp / "sub", spec, module, textwrap.dedent(code))
    return grade(sub, spec, tmp, only=module)


def diagnoses(result: SubmissionResult) -> dict[str, str]:
    return {c.check_id: c.diagnosis for c in result.checks if c.diagnosis}


def assert_named(result: SubmissionResult, expected: set[str], named: dict[str, str]) -> None:
    """Exactly ``expected`` lose points; each check in ``named`` is diagnosed with its words."""
    assert expected, "a planted mistake must cost something"
    assert lost(result) == expected, failures(result)
    found = diagnoses(result)
    for check_id, words in named.items():
        assert words in (found.get(check_id) or ""), (check_id, found.get(check_id))


def in_test_mode(check: Check) -> bool:
    return "warmup" in check.params or check.params.get("mode") == "test"


def stats_nets(spec: Spec, *, perturbed_only: bool = False) -> set[str]:
    """The batchnorm nets whose test-mode scores read the running statistics (the starter line
    keeps them in train mode); ``perturbed_only``: those whose gammas/betas are not 1/0."""

    def reads(c: Check) -> bool:
        perturbed = c.params.get("perturb", c.params.get("reg", 0) != 0)
        return (
            bn_net(c) and spec.api.bn_mode_line != "starter" and (perturbed or not perturbed_only)
        )

    return of(spec, "FullyConnectedNet", where=reads)


# -- §5 valid variants ----------------------------------------------------------------------------


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_eps_outside_the_root_in_test_mode_loses_nothing(tmp_path: Path, course: str) -> None:
    """(x - μ) / (sqrt(var) + ε) in test mode: the notebook's test-time check cannot tell it from
    sqrt(var + ε); neither the layer check nor the nets' test-mode scores may (the nets' running
    variances after one training call are small, where ε moves the scores by up to 0.67)."""
    result = patched(
        course,
        tmp_path,
        "layers",
        (TEST_LINE, "xn = (x - running_mean) / (np.sqrt(running_var) + eps)"),
    )
    assert failures(result) == []
    noted = {c.check_id for c in result.checks if EPS_OUTSIDE in c.notes}
    spec = course_spec(course)
    assert noted & (of(spec, "batchnorm_forward", where=in_test_mode) | stats_nets(spec))
    assert all(c.diagnosis is None for c in result.checks)


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_eps_outside_is_accepted_exactly_not_any_nearby_value(tmp_path: Path, course: str) -> None:
    """A test mode off by more than ε's placement still loses the checks that see it."""
    result = patched(
        course,
        tmp_path,
        "layers",
        (TEST_LINE, "xn = (x - running_mean) / (np.sqrt(running_var) + 1e-2)"),
    )
    spec = course_spec(course)
    assert lost(result) == of(spec, "batchnorm_forward", where=in_test_mode) | stats_nets(spec)
    assert not any(EPS_OUTSIDE in c.notes for c in result.checks)


KEEPDIMS = (
    WRITE_BACK,
    '    bn_param["running_mean"] = np.reshape(running_mean, (1, -1))\n'
    '    bn_param["running_var"] = np.reshape(running_var, (1, -1))\n',
)


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_running_statistics_of_shape_1_by_d_lose_nothing(tmp_path: Path, course: str) -> None:
    result = patched(course, tmp_path, "layers", KEEPDIMS)
    assert failures(result) == []
    notes = [n for c in result.checks for n in c.notes if "broadcasts the same way" in n]
    assert notes and "(1, " in notes[0]


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_running_statistics_of_shape_1_by_d_are_still_compared(tmp_path: Path, course: str) -> None:
    """Shape (1, D) is accepted; wrong values in it are not (momentum the wrong way round)."""
    result = patched(
        course,
        tmp_path,
        "layers",
        KEEPDIMS,
        (
            "running_mean = momentum * running_mean + (1 - momentum) * sample_mean",
            "running_mean = (1 - momentum) * running_mean + momentum * sample_mean",
        ),
        (
            "running_var = momentum * running_var + (1 - momentum) * sample_var",
            "running_var = (1 - momentum) * running_var + momentum * sample_var",
        ),
    )
    spec = course_spec(course)
    train = of(spec, "batchnorm_forward", where=lambda c: not in_test_mode(c))
    assert train <= lost(result)
    assert all("momentum" in (diagnoses(result).get(i) or "") for i in train), failures(result)


# -- §6 batch normalization -----------------------------------------------------------------------

TRAIN_UPDATE = (
    "running_mean = momentum * running_mean + (1 - momentum) * sample_mean\n"
    "        running_var = momentum * running_var + (1 - momentum) * sample_var"
)
TEST_BRANCH = TEST_LINE + "\n        out = gamma * xn + beta"


def layer_stats(spec: Spec) -> set[str]:
    """The layer checks that read the running statistics (test mode, and train mode's state)."""
    return of(spec, "batchnorm_forward")


BN_CASES: dict[str, tuple[tuple[tuple[str, str], ...], Expect, dict[str, str]]] = {
    "running statistics set to the batch's": (
        ((TRAIN_UPDATE, "running_mean, running_var = sample_mean, sample_var"),),
        # After one training call on X, test mode on X then normalizes with X's own statistics:
        # what the starter line does, which 'either' accepts unless dropout changed them.
        lambda s: (
            layer_stats(s)
            | of(
                s,
                "FullyConnectedNet",
                where=lambda c: (
                    c.id in stats_nets(s) and (s.api.bn_mode_line == "fixed" or dropout_net(c))
                ),
            )
        ),
        {"batchnorm_forward_train": "this batch's statistics", "batchnorm_forward_test": "last"},
    ),
    "running_var holds a standard deviation": (
        (
            (
                "running_var = momentum * running_var + (1 - momentum) * sample_var",
                "running_var = momentum * running_var + (1 - momentum) * np.sqrt(sample_var)",
            ),
        ),
        lambda s: layer_stats(s) | stats_nets(s),
        {"batchnorm_forward_train": "standard deviation", "batchnorm_forward_test": "standard"},
    ),
    "running_var holds a standard deviation, and test mode divides by it": (
        (
            (
                "running_var = momentum * running_var + (1 - momentum) * sample_var",
                "running_var = momentum * running_var + (1 - momentum) * np.sqrt(sample_var)",
            ),
            (TEST_LINE, "xn = (x - running_mean) / (running_var + eps)"),
        ),
        lambda s: layer_stats(s) | stats_nets(s),
        {"batchnorm_forward_train": "standard deviation", "batchnorm_forward_test": "divides"},
    ),
    "test mode ignores gamma and beta": (
        ((TEST_BRANCH, TEST_LINE + "\n        out = xn"),),
        lambda s: (
            of(s, "batchnorm_forward", where=in_test_mode) | stats_nets(s, perturbed_only=True)
        ),
        {"batchnorm_forward_test": "ignores gamma and beta"},
    ),
    "test mode adds the test batch to the running averages": (
        (
            (
                TEST_BRANCH,
                "running_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)\n"
                "        running_var = momentum * running_var + (1 - momentum) * x.var(axis=0)\n"
                "        " + TEST_BRANCH,
            ),
        ),
        lambda s: of(s, "batchnorm_forward", where=in_test_mode) | stats_nets(s),
        {"batchnorm_forward_test": "before normalizing"},
    ),
    "test mode updates the running averages after normalizing": (
        (
            (
                TEST_BRANCH,
                TEST_BRANCH
                + "\n        running_mean = momentum * running_mean + (1 - momentum) * x.mean(0)"
                "\n        running_var = momentum * running_var + (1 - momentum) * x.var(0)",
            ),
        ),
        lambda s: of(s, "batchnorm_forward", where=in_test_mode),
        {"batchnorm_forward_test": "leave them unchanged"},
    ),
}


@pytest.mark.parametrize("course", students("batchnorm_forward"))
@pytest.mark.parametrize("case", list(BN_CASES))
def test_batchnorm_mistakes_students_make(tmp_path: Path, course: str, case: str) -> None:
    edits, expected, named = BN_CASES[case]
    spec = course_spec(course)
    result = patched(course, tmp_path, "layers", *edits)
    assert_named(result, expected(spec), {k: v for k, v in named.items() if k in by_id(result)})


BN_STUB = """
import numpy as np
def batchnorm_forward(x, gamma, beta, bn_param):
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = OUT, None
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache
"""


@pytest.mark.parametrize("course", students("batchnorm_forward"))
@pytest.mark.parametrize(("out", "words"), [("None", "None"), ("np.zeros_like(x)", "zeros")])
def test_a_starter_stub_is_not_implemented_not_a_running_average_mistake(
    tmp_path: Path, course: str, out: str, words: str
) -> None:
    """The starter's stub writes its zero running statistics back: that is not a mistake in
    updating them, it is no implementation at all."""
    result = appended(course, tmp_path, "layers", BN_STUB.replace("OUT", out))
    found = diagnoses(result)
    assert "not implemented" in found["batchnorm_forward_train"]
    assert words in found["batchnorm_forward_train"]
    assert not any("not updated" in d for d in found.values())


NET_REBUILDS_BN_PARAMS = """
_rebuild_loss = NET.loss
def _loss(self, X, y=None):
    if self.bn_params:
        self.bn_params = [dict(mode="train") for _ in self.bn_params]
    return _rebuild_loss(self, X, y)
NET.loss = _loss
"""


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_a_net_that_rebuilds_bn_params_at_every_call(tmp_path: Path, course: str) -> None:
    """Its test mode always normalizes with fresh (zero) running statistics."""
    spec = course_spec(course)
    code = NET_REBUILDS_BN_PARAMS.replace("NET", spec.api.name("FullyConnectedNet"))
    expected = stats_nets(spec)
    if not expected:  # the starter line: loss(X) never reads the running statistics
        assert failures(appended(course, tmp_path, "fc_net", code)) == []
        return
    result = appended(course, tmp_path, "fc_net", code)
    assert_named(result, expected, {i: "running statistics are lost" for i in expected})


# -- §6 regularization ----------------------------------------------------------------------------

# Appended to the correct net (which adds 0.5*reg*W² to the loss and reg*W to each dW): each case
# undoes or adds what the wrong code would. LAST is the last weight's name.
REG = """
import numpy as np
_reg_loss = NET.loss
def _loss(self, X, y=None):
    result = _reg_loss(self, X, y)
    if y is None:
        return result
    loss, grads = result
    last = "W%d" % max(int(k[1:]) for k in self.params if k.startswith("W"))
    for k, v in self.params.items():
        if WHICH:
            loss += LOSS * 0.5 * self.reg * np.sum(v * v)
            grads[k] = grads[k] + GRAD * self.reg * v
    return loss, grads
NET.loss = _loss
"""
REG_CASES = {
    "last W not regularized": ("k == last", "-1", "-1", "last layer's weights"),
    "in the loss, not in the gradients": ("k.startswith('W')", "0", "-1", "not in the gradients"),
    "in the gradients, not in the loss": ("k.startswith('W')", "-1", "0", "not in the loss"),
    "biases regularized (not gammas/betas)": ("k.startswith('b')", "1", "1", "biases"),
}


@pytest.mark.parametrize(
    ("course", "net"),
    [(c, "FullyConnectedNet") for c in students("FullyConnectedNet")]
    + [(c, "TwoLayerNet") for c in students("TwoLayerNet")],
)
@pytest.mark.parametrize("case", list(REG_CASES))
def test_regularization_mistakes_students_make(
    tmp_path: Path, course: str, net: str, case: str
) -> None:
    which, loss, grad, words = REG_CASES[case]
    spec = course_spec(course)
    code = (
        REG.replace("NET", spec.api.name(net))
        .replace("WHICH", which)
        .replace("LOSS", loss)
        .replace("GRAD", grad)
    )
    result = appended(course, tmp_path, "fc_net", code)
    expected = of(spec, net, where=regularized)
    assert_named(result, expected, {i: words for i in expected})


# -- §6 update rules ------------------------------------------------------------------------------


def rmsprop_code(spec: Spec, root: bool) -> str:
    key = repr(spec.api.state_keys["cache"])
    denominator = "np.sqrt(s)" if root else "s"
    return f"""
    import numpy as np
    def rmsprop(w, dw, config=None):
        config = {{}} if config is None else config
        for k, v in (('learning_rate', 1e-2), ('decay_rate', 0.99), ('epsilon', 1e-8)):
            config.setdefault(k, v)
        s = config['decay_rate'] * config.get({key}, np.zeros_like(w))
        s = s + (1 - config['decay_rate']) * dw ** 2
        config[{key}] = s
        return w - config['learning_rate'] * dw / ({denominator} + config['epsilon']), config
    """


@pytest.mark.parametrize("course", students("rmsprop"))
def test_rmsprop_without_the_square_root(tmp_path: Path, course: str) -> None:
    spec = course_spec(course)
    result = appended(course, tmp_path, "optim", rmsprop_code(spec, root=False))
    assert of(spec, "rmsprop") <= lost(result) <= uses(spec, "rmsprop")
    for check_id in of(spec, "rmsprop"):
        assert "square root" in (diagnoses(result).get(check_id) or "")


@pytest.mark.parametrize("course", students("rmsprop"))
def test_rmsprop_with_the_square_root_gets_no_diagnosis(tmp_path: Path, course: str) -> None:
    result = appended(course, tmp_path, "optim", rmsprop_code(spec := course_spec(course), True))
    assert spec.id == course
    assert failures(result) == []


ADAM_T = """
import numpy as np
def adam(w, dw, config=None):
    config = {} if config is None else config
    for k, v in (('learning_rate', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('epsilon', 1e-8)):
        config.setdefault(k, v)
    config.setdefault(T, T0)
    config.setdefault(M, np.zeros_like(w))
    config.setdefault(V, np.zeros_like(w))
    b1, b2, t = config['beta1'], config['beta2'], config[T]
    m = b1 * config[M] + (1 - b1) * dw
    v = b2 * config[V] + (1 - b2) * dw ** 2
    with np.errstate(all="ignore"):
        next_w = w - config['learning_rate'] * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + config['epsilon'])
    config[M], config[V], config[T] = m, v, STORED
    return next_w, config
"""  # noqa: E501


@pytest.mark.parametrize("course", students("adam"))
@pytest.mark.parametrize(
    ("stored", "words", "not_words"),
    [("t", "never incremented", "after it is used"), ("t + 1", "after it is used", "never")],
)
def test_adam_t_diagnoses_follow_what_config_holds(
    tmp_path: Path, course: str, stored: str, words: str, not_words: str
) -> None:
    """Both use the old t; only the one that writes t + 1 back increments it after use."""
    spec = course_spec(course)
    keys = spec.api.state_keys
    code = (
        ADAM_T.replace("T0", str(spec.api.adam_t_default))
        .replace("STORED", stored)
        .replace("T", repr(keys["t"]))
        .replace("M", repr(keys["m"]))
        .replace("V", repr(keys["v"]))
    )
    result = appended(course, tmp_path, "optim", code)
    diagnosis = diagnoses(result).get("adam") or ""
    assert words in diagnosis and not_words not in diagnosis


# -- §6 a function that changes its input ---------------------------------------------------------


@pytest.mark.parametrize("course", students("batchnorm_forward"))
def test_a_forward_that_changes_its_input_in_place(tmp_path: Path, course: str) -> None:
    """``x -= mean`` in batchnorm_forward: its output is right, so the value checks keep their
    points with a note; the numerical gradient it corrupts (the notebook's too: each centred
    difference restores one entry of an x the previous call has centred) costs the gradient
    check, which says why."""
    spec = course_spec(course)
    result = patched(
        course, tmp_path, "layers", ("xc = x - sample_mean", "x -= sample_mean\n        xc = x")
    )
    gradient = of(spec, "batchnorm_backward", where=lambda c: c.kind == "gradient")
    assert gradient and lost(result) == gradient, failures(result)
    checks = by_id(result)
    for check_id in of(spec, "batchnorm_forward", where=lambda c: not in_test_mode(c)):
        assert any("modifies its input x in place" in n for n in checks[check_id].notes)
    for check_id in gradient:
        assert "modifies its input x in place" in (checks[check_id].diagnosis or "")
        assert "numerical gradient" in (checks[check_id].diagnosis or "")


# -- no diagnosis reaches a correct submission ----------------------------------------------------


@pytest.mark.parametrize("course", list(COURSES))
def test_the_correct_examples_get_no_diagnosis_and_no_note_of_a_variant(
    tmp_path: Path, course: str, bundled_results: BundledResults
) -> None:
    skip_without(course)
    spec = course_spec(course)
    result = grade_or_share(COURSES[course], spec, tmp_path, bundled_results)
    assert all(c.diagnosis is None for c in result.checks)
    notes = [n for c in result.checks for n in c.notes]
    assert not [n for n in notes if "in place" in n or "broadcasts" in n or EPS_OUTSIDE in n]


def test_the_training_check_says_what_passed(
    tmp_path: Path, bundled_results: BundledResults
) -> None:
    """A passing comparison's message is shown too: it must not read as a failure."""
    result = grade_or_share(
        COURSES["cs231n-2021"], course_spec("cs231n-2021"), tmp_path, bundled_results
    )
    messages = [
        comparison.message
        for check in result.checks
        for comparison in check.comparisons
        if comparison.name == "trained parameters"
    ]
    assert messages
    for message in messages:
        assert "do not match" not in message and "W1 (" in message


# -- §7 messages that match the evidence ----------------------------------------------------------


def test_a_missing_helper_is_named_not_the_subject(tmp_path: Path) -> None:
    """batchnorm_backward's check also calls batchnorm_forward: when that is missing, the message
    names it."""
    result = patched(
        "cs231n-2021",
        tmp_path,
        "layers",
        ("def batchnorm_forward(", "def renamed_batchnorm_forward("),
    )
    message = by_id(result)["batchnorm_backward"].message
    assert "looked for 'batchnorm_forward' in cs231n/layers.py" in message
    assert "looked for 'batchnorm_backward'" not in message


def test_a_net_without_dropout_anywhere_is_not_said_to_skip_the_last_layer(tmp_path: Path) -> None:
    """No dropout call at all (so nothing to inject into), and a loss that differs from the
    no-dropout loss for another reason (+0.01): the probe finds the last hidden layer undropped,
    and the loss does not change with the seed either."""
    result = patched(
        "cs231n-2021",
        tmp_path,
        "fc_net",
        (
            "if self.use_dropout:\n                h, drop_cache = dropout_forward",
            "if False:\n                h, drop_cache = dropout_forward",
        ),
        (
            "if self.use_dropout:\n                dh = dropout_backward",
            "if False:\n                dh = dropout_backward",
        ),
        (
            "        loss, dscores = softmax_loss(scores, y)\n",
            "        loss, dscores = softmax_loss(scores, y)\n        loss += 0.01\n",
        ),
    )
    diagnosis = by_id(result)["fc_dropout_loss"].diagnosis or ""
    assert "applies no dropout in training" in diagnosis
    assert "last hidden layer" not in diagnosis
