"""Known mistakes are diagnosed by name; valid variations are not.

Each case plants one student-style mistake (a function written the wrong way, appended to the
bundled correct example so that it replaces the right one) and checks that the failing check
carries the expected diagnosis, and that checks not touching the mistaken function still pass.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import SubmissionResult
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"cs231n-2021": ROOT / "examples" / "cs231n-2021" / "correct",
            "ucla-c147-2022": ROOT / "examples" / "ucla-c147-2022" / "correct"}

pytestmark = pytest.mark.slow

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

# Batchnorm with its own cache; VAR, RM, RV and DX are filled in per mistake.
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
    return dx, {dgamma}, dout.sum(axis=0)
batchnorm_backward_alt = batchnorm_backward
"""
BN_OK = dict(test_uses_batch="False", var="x.var(axis=0)", rm="m * rm + (1 - m) * mu", rv="m * rv + (1 - m) * var",
             dx="(dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / std", dgamma="(dout * xh).sum(axis=0)")

ADAM = """
import numpy as np
def adam(w, dw, config=None):
    config = {} if config is None else config
    for k, v in (('learning_rate', 1e-3), ('beta1', 0.9), ('beta2', 0.999), ('epsilon', 1e-8), ('t', 0)):
        config.setdefault(k, v)
    config.setdefault('M', np.zeros_like(w))
    config.setdefault('V', np.zeros_like(w))
    b1, b2 = config['beta1'], config['beta2']
BODY
    return next_w, config
"""


def grade(course: str, tmp: Path, module: str, code: str) -> SubmissionResult:
    example = EXAMPLES[course]
    if not example.is_dir():
        pytest.skip(f"bundled example {example} missing")
    spec = api.get_spec(course)
    sub = tmp / "sub"
    shutil.copytree(example, sub)
    path = sub / spec.student_modules[module]
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))
    (taken,) = intake.collect([sub], tmp / "intake", lms=False)
    return api.grade_submission(taken, spec=spec, workdir=tmp / "work", sandbox="process",
                                limits=Limits(check_seconds=20.0))


def check(result: SubmissionResult, check_id: str):
    return next(c for c in result.checks if c.check_id == check_id)


def adam_code(course: str, body: str) -> str:
    """The student's adam with the course's state keys for the two moments."""
    keys = api.get_spec(course).api.state_keys
    code = ADAM.replace("BODY", textwrap.indent(textwrap.dedent(body).strip(), "    "))
    return code.replace("'M'", repr(keys["m"])).replace("'V'", repr(keys["v"]))


DROPOUT_CASES = [
    # (course, keep expression, mask, test-mode output, check, diagnosis words)
    ("cs231n-2021", "p", "(np.random.rand(*x.shape) < keep)", "x", "dropout_forward", "no inverted scaling"),
    ("cs231n-2021", "p", "(np.random.rand(*x.shape) < 1 - keep) / (1 - keep)", "x", "dropout_forward", "flipped"),
    ("cs231n-2021", "p", "(np.random.rand(1, x.shape[1]) < keep) / keep", "x", "dropout_forward", "shared by the whole batch"),
    ("cs231n-2021", "p", "(np.random.rand(*x.shape) < p / p)", "x", "dropout_forward", "operator"),
    ("cs231n-2021", "p", "(np.random.rand(*x.shape) < keep) / keep", "x * keep", "dropout_forward", "test time"),
    # Seed 002's bug under a drop-probability course: zeroes with probability p, rescales by 1/p.
    ("ucla-c147-2022", "1 - p", "(np.random.rand(*x.shape) >= p) / p", "x", "dropout_forward", "1/(drop probability)"),
    # A drop-probability dropout handed in for the keep-probability course: the flip diagnosis...
    ("cs231n-2021", "1 - p", "(np.random.rand(*x.shape) < keep) / keep", "x", "dropout_forward", "flipped"),
]


@pytest.mark.parametrize(("course", "keep", "mask", "test", "check_id", "words"), DROPOUT_CASES)
def test_dropout_mistakes(tmp_path: Path, course: str, keep: str, mask: str, test: str, check_id: str, words: str) -> None:
    result = grade(course, tmp_path, "layers", DROPOUT.format(keep=keep, mask=mask, test=test))
    c = check(result, check_id)
    assert c.status == "failed" and c.score == 0
    assert c.diagnosis and words in c.diagnosis, c.diagnosis


def test_drop_probability_dropout_passes_where_p_is_the_drop_probability(tmp_path: Path) -> None:
    """...and the same code passes under UCLA C147, whose p is the drop probability."""
    code = DROPOUT.format(keep="1 - p", mask="(np.random.rand(*x.shape) < keep) / keep", test="x")
    result = grade("ucla-c147-2022", tmp_path, "layers", code)
    assert check(result, "dropout_forward").status == "passed"
    assert check(result, "dropout_backward").status == "passed"


@pytest.mark.parametrize(("change", "check_id", "words"), [
    ({"var": "x.var(axis=0, ddof=1)"}, "batchnorm_forward_train", "unbiased"),
    ({"rm": "(1 - m) * rm + m * mu", "rv": "(1 - m) * rv + m * var"}, "batchnorm_forward_train", "momentum"),
    ({"rm": "rm", "rv": "rv"}, "batchnorm_forward_train", "not updated"),
    ({"test_uses_batch": "True"}, "batchnorm_forward_test", "batch statistics"),
    ({"dx": "(dxh - dxh.mean(axis=0)) / std"}, "batchnorm_backward", "variance"),
    ({"dx": "(dxh - xh * (dxh * xh).mean(axis=0)) / std"}, "batchnorm_backward", "mean"),
    ({"dgamma": "(dout * xh).sum(axis=1)"}, "batchnorm_backward", "wrong axis"),
])
def test_batchnorm_mistakes(tmp_path: Path, change: dict[str, str], check_id: str, words: str) -> None:
    result = grade("cs231n-2021", tmp_path, "layers", BATCHNORM.format(**{**BN_OK, **change}))
    c = check(result, check_id)
    assert c.status == "failed" and c.diagnosis and words in c.diagnosis, (c.message, c.diagnosis)
    assert check(result, "affine_forward").status == "passed"


def test_planted_batchnorm_without_mistake_passes(tmp_path: Path) -> None:
    result = grade("cs231n-2021", tmp_path, "layers", BATCHNORM.format(**BN_OK))
    bn = [c for c in result.checks if "batchnorm" in c.check_id]
    assert bn and all(c.status == "passed" for c in bn), [(c.check_id, c.message) for c in bn]


ADAM_OK = """
t = config['t'] + 1
m = b1 * config['M'] + (1 - b1) * dw
v = b2 * config['V'] + (1 - b2) * dw ** 2
next_w = w - config['learning_rate'] * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + config['epsilon'])
config['M'], config['V'], config['t'] = m, v, t
"""


@pytest.mark.parametrize("course", ["cs231n-2021", "ucla-c147-2022"])
@pytest.mark.parametrize(("changes", "words"), [
    # Two students in our notes did this; their notebooks printed next_w error 0.207.
    ([("(m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t))", "m / (np.sqrt(v)")], "without bias correction"),
    ([("t = config['t'] + 1", "t = config['t']"), ("= m, v, t", "= m, v, t + 1")], "incremented after"),
    ([("= m, v, t", "= v, m, t")], "swapped"),
])
def test_adam_mistakes(tmp_path: Path, course: str, changes: list[tuple[str, str]], words: str) -> None:
    body = ADAM_OK
    for old, new in changes:
        assert old in body
        body = body.replace(old, new)
    result = grade(course, tmp_path, "optim", adam_code(course, body))
    c = check(result, "adam")
    assert c.status == "failed" and c.diagnosis and words in c.diagnosis, (c.message, c.diagnosis)


def test_adam_written_the_students_way_passes(tmp_path: Path) -> None:
    result = grade("cs231n-2021", tmp_path, "optim", adam_code("cs231n-2021", ADAM_OK))
    assert check(result, "adam").status == "passed" and check(result, "adam_defaults_hidden").status == "passed"


def test_momentum_with_the_other_convention(tmp_path: Path) -> None:
    code = """
    import numpy as np
    def sgd_momentum(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault('learning_rate', 1e-2)
        config.setdefault('momentum', 0.9)
        v = config['momentum'] * config.get('velocity', np.zeros_like(w)) + dw
        config['velocity'] = v
        return w - config['learning_rate'] * v, config
    """
    c = check(grade("cs231n-2021", tmp_path, "optim", code), "sgd_momentum")
    assert c.status == "failed" and c.diagnosis and "other convention" in c.diagnosis


def test_nesterov_written_as_plain_momentum(tmp_path: Path) -> None:
    code = """
    import numpy as np
    def sgd_nesterov_momentum(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault('learning_rate', 1e-2)
        config.setdefault('momentum', 0.9)
        v = config['momentum'] * config.get('velocity', np.zeros_like(w)) - config['learning_rate'] * dw
        config['velocity'] = v
        return w + v, config
    """
    c = check(grade("ucla-c147-2022", tmp_path, "optim", code), "sgd_nesterov_momentum")
    assert c.status == "failed" and c.diagnosis and "plain momentum" in c.diagnosis


def test_rmsprop_with_epsilon_inside_the_root_is_not_a_mistake(tmp_path: Path) -> None:
    keys = api.get_spec("ucla-c147-2022").api.state_keys
    code = f"""
    import numpy as np
    def rmsprop(w, dw, config=None):
        config = {{}} if config is None else config
        for k, v in (('learning_rate', 1e-2), ('decay_rate', 0.99), ('epsilon', 1e-8)):
            config.setdefault(k, v)
        s = config['decay_rate'] * config.get({keys['cache']!r}, np.zeros_like(w)) + (1 - config['decay_rate']) * dw ** 2
        config[{keys['cache']!r}] = s
        return w - config['learning_rate'] * dw / np.sqrt(s + config['epsilon']), config
    """
    c = check(grade("ucla-c147-2022", tmp_path, "optim", code), "rmsprop")
    assert c.status == "passed" and c.diagnosis is None


def test_softmax_without_max_shift_passes_with_an_advisory(tmp_path: Path) -> None:
    code = """
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
    c = check(grade("cs231n-2021", tmp_path, "layers", code), "softmax_loss")
    assert c.status == "passed" and c.diagnosis is None
    assert "advisory" in c.message


REG = """
_reg_loss = FullyConnectedNet.loss
def _loss(self, X, y=None):
    result = _reg_loss(self, X, y)
    if y is None:
        return result
    loss, grads = result
    for k, v in self.params.items():
        {extra}
    return loss, grads
FullyConnectedNet.loss = _loss
"""


@pytest.mark.parametrize(("extra", "words"), [
    # The correct example already adds 0.5*reg*W²; the mistakes add what the wrong code would.
    ("if k.startswith('W'):\n            loss += 0.5 * self.reg * np.sum(v * v)\n            grads[k] = grads[k] + self.reg * v",
     "0.5 factor"),
    ("if not k.startswith('W'):\n            loss += 0.5 * self.reg * np.sum(v * v)\n            grads[k] = grads[k] + self.reg * v",
     "biases"),
])
def test_regularization_mistakes(tmp_path: Path, extra: str, words: str) -> None:
    code = "import numpy as np\n" + REG.replace("{extra}", extra)
    result = grade("cs231n-2021", tmp_path, "fc_net", code)
    c = check(result, "fc_loss_reg")
    assert c.status == "failed" and c.diagnosis and words in c.diagnosis, (c.message, c.diagnosis)
    assert check(result, "fc_loss").status == "passed"  # reg = 0 is unaffected
