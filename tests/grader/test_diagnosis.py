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
COURSES = ("cs231n-2021", "ucla-c147-2022", "cs182-sp25", "cs231n-2017", "cs231n-2018", "dasecv-2021",
           "ucla-ece239as-2018")
EXAMPLES = {course: ROOT / "examples" / course / "correct" for course in COURSES}
KEEP_COURSES = [c for c in COURSES if api.get_spec(c).api.dropout_p == "keep"]
DROP_COURSES = [c for c in COURSES if api.get_spec(c).api.dropout_p == "drop"]
ADAM_COURSES = [c for c in COURSES if any(k.subject == "adam" for k in api.get_spec(c).active_checks())]
MOMENTUM_COURSES = [c for c in COURSES if any(k.subject == "sgd_momentum" for k in api.get_spec(c).active_checks())]

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


DROPOUT_MISTAKES = [
    # (mask, test-mode output, diagnosis words); `keep` is the keep probability in the course's terms
    ("(np.random.rand(*x.shape) < keep)", "x", "no inverted scaling"),
    ("(np.random.rand(*x.shape) < 1 - keep) / (1 - keep)", "x", "flipped"),
    ("(np.random.rand(1, x.shape[1]) < keep) / keep", "x", "shared by the whole batch"),
    ("(np.random.rand(*x.shape) < p / p)", "x", "operator"),
    ("(np.random.rand(*x.shape) < keep) / keep", "x * keep", "test time"),
]


def keep_expression(course: str) -> str:
    return "p" if api.get_spec(course).api.dropout_p == "keep" else "1 - p"


@pytest.mark.parametrize("course", COURSES)
@pytest.mark.parametrize(("mask", "test", "words"), DROPOUT_MISTAKES)
def test_dropout_mistakes(tmp_path: Path, course: str, mask: str, test: str, words: str) -> None:
    result = grade(course, tmp_path, "layers", DROPOUT.format(keep=keep_expression(course), mask=mask, test=test))
    c = check(result, "dropout_forward")
    assert c.status == "failed" and c.score == 0
    assert c.diagnosis and words in c.diagnosis, c.diagnosis


@pytest.mark.parametrize("course", DROP_COURSES)
def test_seed_002_dropout(tmp_path: Path, course: str) -> None:
    """Seed 002's bug: zeroes with probability p (the drop probability) but rescales by 1/p."""
    code = DROPOUT.format(keep="1 - p", mask="(np.random.rand(*x.shape) >= p) / p", test="x")
    c = check(grade(course, tmp_path, "layers", code), "dropout_forward")
    assert c.status == "failed" and c.diagnosis and "1/(drop probability)" in c.diagnosis, c.diagnosis


@pytest.mark.parametrize("course", KEEP_COURSES)
def test_drop_probability_dropout_in_a_keep_probability_course_is_flipped(tmp_path: Path, course: str) -> None:
    code = DROPOUT.format(keep="1 - p", mask="(np.random.rand(*x.shape) < keep) / keep", test="x")
    c = check(grade(course, tmp_path, "layers", code), "dropout_forward")
    assert c.status == "failed" and c.diagnosis and "flipped" in c.diagnosis


def test_drop_probability_dropout_passes_where_p_is_the_drop_probability(tmp_path: Path) -> None:
    """...and the same code passes under UCLA C147, whose p is the drop probability."""
    code = DROPOUT.format(keep="1 - p", mask="(np.random.rand(*x.shape) < keep) / keep", test="x")
    result = grade("ucla-c147-2022", tmp_path, "layers", code)
    assert check(result, "dropout_forward").status == "passed"
    assert check(result, "dropout_backward").status == "passed"


@pytest.mark.parametrize("course", COURSES)
@pytest.mark.parametrize(("change", "check_id", "words"), [
    ({"var": "x.var(axis=0, ddof=1)"}, "batchnorm_forward_train", "unbiased"),
    ({"rm": "(1 - m) * rm + m * mu", "rv": "(1 - m) * rv + m * var"}, "batchnorm_forward_train", "momentum"),
    ({"rm": "rm", "rv": "rv"}, "batchnorm_forward_train", "not updated"),
    ({"test_uses_batch": "True"}, "batchnorm_forward_test", "batch statistics"),
    ({"dx": "(dxh - dxh.mean(axis=0)) / std"}, "batchnorm_backward", "variance"),
    ({"dx": "(dxh - xh * (dxh * xh).mean(axis=0)) / std"}, "batchnorm_backward", "mean"),
    ({"dgamma": "(dout * xh).sum(axis=1)"}, "batchnorm_backward", "wrong axis"),
])
def test_batchnorm_mistakes(tmp_path: Path, course: str, change: dict[str, str], check_id: str, words: str) -> None:
    result = grade(course, tmp_path, "layers", BATCHNORM.format(**{**BN_OK, **change}))
    c = check(result, check_id)
    assert c.status == "failed" and c.diagnosis and words in c.diagnosis, (c.message, c.diagnosis)
    assert check(result, "dropout_forward").status == "passed"


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


@pytest.mark.parametrize("course", ADAM_COURSES)
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


@pytest.mark.parametrize("course", MOMENTUM_COURSES)
def test_momentum_with_the_other_convention(tmp_path: Path, course: str) -> None:
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
    c = check(grade(course, tmp_path, "optim", code), "sgd_momentum")
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
@pytest.mark.parametrize("course", COURSES)
def test_regularization_mistakes(tmp_path: Path, course: str, extra: str, words: str) -> None:
    code = "import numpy as np\n" + REG.replace("{extra}", extra)
    result = grade(course, tmp_path, "fc_net", code)
    reg_check = "fc_loss_reg" if course != "cs182-sp25" else "fc_batchnorm_loss_reg"
    c = check(result, reg_check)
    assert c.status == "failed" and c.diagnosis and words in c.diagnosis, (c.message, c.diagnosis)
    assert check(result, "fc_loss").status == "passed"  # reg = 0 is unaffected


def _patched_example(tmp: Path, rel: str, old: str, new: str) -> SubmissionResult:
    sub = tmp / "sub"
    shutil.copytree(EXAMPLES["cs231n-2021"], sub)
    path = sub / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    (taken,) = intake.collect([sub], tmp / "intake", lms=False)
    return api.grade_submission(taken, spec=api.get_spec("cs231n-2021"), workdir=tmp / "work", sandbox="process",
                                limits=Limits(check_seconds=20.0))


def test_batchnorm_after_the_relu(tmp_path: Path) -> None:
    result = _patched_example(
        tmp_path, "cs231n/layer_utils.py",
        '''    if norm == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        a, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a)''',
        '''    a, relu_cache = relu_forward(a)
    if norm == "batchnorm":
        out, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        out, norm_cache = layernorm_forward(a, gamma, beta, norm_param)''')
    c = check(result, "fc_batchnorm_loss")
    assert c.status == "failed" and c.diagnosis and "after the ReLU" in c.diagnosis, (c.message, c.diagnosis)
    assert check(result, "fc_loss").status == "passed"


def test_dropout_after_the_last_affine(tmp_path: Path) -> None:
    result = _patched_example(
        tmp_path, "cs231n/classifiers/fc_net.py",
        '''        scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])''',
        '''        scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])
        if self.use_dropout:
            scores, _ = dropout_forward(scores, self.dropout_param)''')
    c = check(result, "fc_dropout_loss")
    assert c.status == "failed" and c.diagnosis and "after the last affine" in c.diagnosis, (c.message, c.diagnosis)
