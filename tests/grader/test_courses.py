"""End to end, per course: correct submissions score full marks; each planted mistake loses its check.

Mistakes are planted by appending a wrapper to the student's module that perturbs one function
(the rest of the submission is the bundled correct example). Submissions run in plain processes
(`--sandbox process`): these are the project's own files; the sandbox has its own suite.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from grader import api, intake
from grader.results import SubmissionResult
from grader.sandbox import Limits
from grader.spec import Check, Spec

ROOT = Path(__file__).resolve().parents[2]
COURSES = {  # spec id -> bundled correct example
    spec_id: ROOT / "examples" / spec_id / "correct"
    for spec_id in ("cs231n-2021", "ucla-c147-2022", "cs182-sp25", "cs231n-2017", "cs231n-2018", "dasecv-2021",
                    "ucla-ece239as-2018")
}
MODEL_KINDS = ("model_init", "model_loss", "solver")

pytestmark = pytest.mark.slow


def grade(path: Path, spec: Spec, tmp: Path, **limits: float) -> SubmissionResult:
    (sub,) = intake.collect([path], tmp / "intake", lms=False)
    return api.grade_submission(sub, spec=spec, workdir=tmp / "work", sandbox="process",
                                limits=Limits(**{"check_seconds": 20.0, **limits}))


def by_id(result: SubmissionResult) -> dict[str, object]:
    return {c.check_id: c for c in result.checks}


def plant(src: Path, dest: Path, spec: Spec, module: str, code: str) -> Path:
    """Copy the correct example and append ``code`` to one of its student modules."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules[module]
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))
    return dest


def mistake_for(check: Check, spec: Spec) -> tuple[str, str, str]:
    """(module, code, perturbed subject) that makes ``check`` fail and leaves the rest alone."""
    name = spec.api.name(check.subject)
    if check.kind == "solver":
        rule = check.params.get("update_rule", "adam")
        return "optim", rule, f"""
            def {rule}(w, dw, config=None):
                return w, config if config is not None else {{}}
            """
    if check.kind == "model_init":
        return "fc_net", check.subject, f"""
            _planted_init = {name}.__init__
            def _planted(self, *args, **kwargs):
                _planted_init(self, *args, **kwargs)
                self.params["W1"] = self.params["W1"] * 3
            {name}.__init__ = _planted
            """
    if check.kind == "model_loss":
        return "fc_net", check.subject, f"""
            _planted_loss = {name}.loss
            def _planted(self, X, y=None):
                result = _planted_loss(self, X, y)
                return result if y is None else (result[0] + 0.05, result[1])
            {name}.loss = _planted
            """
    module = spec.module_of(check.subject)
    return module, check.subject, f"""
        _planted_fn = {name}
        def {name}(*args, **kwargs):
            result = _planted_fn(*args, **kwargs)
            if isinstance(result, tuple):
                return (result[0] * 1.1 + 0.01,) + result[1:]
            return result * 1.1 + 0.01
        """


def _skip_without(course: str) -> None:
    if not COURSES[course].is_dir():
        pytest.skip(f"bundled example {COURSES[course]} missing")


@pytest.fixture(scope="module")
def correct_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    out = {}
    for course, path in COURSES.items():
        if path.is_dir():
            out[course] = grade(path, api.get_spec(course), tmp_path_factory.mktemp(course))
    return out


@pytest.mark.parametrize("course", list(COURSES))
def test_correct_submission_scores_full_marks(course: str, correct_results: dict[str, SubmissionResult]) -> None:
    _skip_without(course)
    result = correct_results[course]
    failing = [(c.check_id, c.message) for c in result.checks if c.status != "passed"]
    assert failing == []
    assert result.score == result.max_score > 0


def _cases() -> list[tuple[str, str]]:
    return [(course, c.id) for course in COURSES for c in api.get_spec(course).active_checks()
            if c.award != "informative"]


@pytest.mark.parametrize(("course", "check_id"), _cases())
def test_each_planted_mistake_loses_its_check(course: str, check_id: str, tmp_path: Path) -> None:
    _skip_without(course)
    spec = api.get_spec(course)
    target = next(c for c in spec.checks if c.id == check_id)
    module, perturbed, code = mistake_for(target, spec)
    result = grade(plant(COURSES[course], tmp_path / "sub", spec, module, code), spec, tmp_path)
    checks = by_id(result)
    assert checks[check_id].status != "passed", checks[check_id].message
    assert result.score < result.max_score
    for c in result.checks:
        if c.status == "passed" or c.check_id == check_id:
            continue
        same_function = next(s for s in spec.checks if s.id == c.check_id).subject == perturbed
        # Anything else that fails is a dependent, and must say what it depends on.
        assert same_function or c.root_cause is not None, (c.check_id, c.message)


def test_missing_raising_and_hanging_functions_fail_only_their_own_checks(tmp_path: Path) -> None:
    _skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = plant(COURSES["cs231n-2021"], tmp_path / "s1", spec, "layers", """
        del layernorm_forward
        def batchnorm_backward_alt(dout, cache):
            raise ValueError("not done yet")
        """)
    path = sub / spec.student_modules["optim"]
    path.write_text(path.read_text() + "\n\ndef rmsprop(w, dw, config=None):\n    while True:\n        pass\n")
    checks = by_id(grade(sub, spec, tmp_path, check_seconds=2.0))
    assert checks["layernorm_forward"].status == "error" and "layernorm_forward" in checks["layernorm_forward"].message
    assert checks["batchnorm_backward_alt"].status == "error" and "not done yet" in checks["batchnorm_backward_alt"].message
    assert checks["rmsprop"].status == "timeout"
    broken = {"layernorm_forward", "layernorm_backward", "fc_layernorm_loss", "batchnorm_backward_alt", "rmsprop"}
    # Everything else is graded: it passes, or (a net that calls a broken function) names the cause.
    for cid, c in checks.items():
        if cid not in broken:
            assert c.status == "passed" or c.root_cause in broken, (cid, c.message)


MASKS = {
    "U < keep": "(np.random.rand(*x.shape) < keep) / keep",
    "U >= 1 - keep": "(np.random.rand(*x.shape) >= 1 - keep) / keep",
    "binomial": "np.random.binomial(1, keep, size=x.shape) / keep",
}


@pytest.mark.parametrize("course", list(COURSES))
@pytest.mark.parametrize("convention", list(MASKS))
def test_any_mask_convention_is_accepted(course: str, convention: str, tmp_path: Path) -> None:
    _skip_without(course)
    spec = api.get_spec(course)
    keep = "dropout_param['p']" if spec.api.dropout_p == "keep" else "1 - dropout_param['p']"
    sub = plant(COURSES[course], tmp_path / "sub", spec, "layers", f"""
        import numpy as np
        def dropout_forward(x, dropout_param):
            if 'seed' in dropout_param:
                np.random.seed(dropout_param['seed'])
            keep = {keep}
            mask = None
            out = x
            if dropout_param['mode'] == 'train':
                mask = {MASKS[convention]}
                out = x * mask
            return out.astype(x.dtype, copy=False), (dropout_param, mask)
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            return dout * mask if dropout_param['mode'] == 'train' else dout
        """)
    result = grade(sub, spec, tmp_path)
    assert [(c.check_id, c.message) for c in result.checks if c.status != "passed"] == []


def test_float32_outputs_are_judged_with_the_float32_tolerance(tmp_path: Path) -> None:
    _skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = plant(COURSES["cs231n-2021"], tmp_path / "sub", spec, "layers", """
        import numpy as np
        _f64_affine_forward = affine_forward
        def affine_forward(x, w, b):
            out, cache = _f64_affine_forward(x, w, b)
            return out.astype(np.float32), cache
        """)
    assert by_id(grade(sub, spec, tmp_path))["affine_forward"].status == "passed"


@pytest.mark.parametrize(("course", "line", "passes"), [
    ("ucla-c147-2022", "fixed", True), ("ucla-c147-2022", "starter", True),
    ("cs182-sp25", "starter", True), ("cs182-sp25", "fixed", False),
])
def test_bn_mode_line(course: str, line: str, passes: bool, tmp_path: Path) -> None:
    """C147 accepts a student's fix of the starter's BN mode line; CS182's own check depends on it."""
    _skip_without(course)
    spec = api.get_spec(course)
    sub = tmp_path / "sub"
    shutil.copytree(COURSES[course], sub)
    fc_net = sub / spec.student_modules["fc_net"]
    text = fc_net.read_text()
    fixed_lines = ("bn_param['mode'] = mode", 'bn_param["mode"] = mode')
    starter_line = "bn_param[mode] = mode"
    if line == "starter":
        for fixed in fixed_lines:
            text = text.replace(fixed, starter_line)
        assert starter_line in text
    else:
        text = text.replace(starter_line, fixed_lines[0])
        assert any(f in text for f in fixed_lines)
    fc_net.write_text(text)
    checks = by_id(grade(sub, spec, tmp_path))
    target = "fc_bn_forward_output" if course == "cs182-sp25" else "fc_batchnorm_loss"
    assert (checks[target].status == "passed") is passes, checks[target].message


def test_old_style_code_passes_under_the_compatibility_shim(tmp_path: Path) -> None:
    """Python 3 code written for old numpy and the old starters (variants.md §11) still imports."""
    _skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    assert spec.api.compat
    sub = tmp_path / "sub"
    shutil.copytree(COURSES["cs231n-2021"], sub)
    layers = sub / spec.student_modules["layers"]
    layers.write_text(layers.read_text() + """

from past.builtins import xrange
from future import standard_library
standard_library.install_aliases()
import numpy as np

_compat_relu_forward = relu_forward
def relu_forward(x):
    out, cache = _compat_relu_forward(x.astype(np.float))
    for _ in xrange(1):
        out = out * np.int(1)
    return out, cache
""")
    utils = sub / spec.student_modules["layer_utils"]
    # The 2019 starter and daseCV import torch at module level (fast_layers); it is never used.
    utils.write_text(utils.read_text() + "\nimport torch\n")
    result = grade(sub, spec, tmp_path)
    assert [(c.check_id, c.message) for c in result.checks if c.status != "passed"] == []


def test_a_net_that_does_not_call_dropout_forward_is_judged_by_self_consistency(tmp_path: Path) -> None:
    """Masks cannot be injected into inlined dropout: the net's own gradients are checked instead."""
    _skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = tmp_path / "sub"
    shutil.copytree(COURSES["cs231n-2021"], sub)
    fc_net = sub / spec.student_modules["fc_net"]
    text = fc_net.read_text().replace("h, drop_cache = dropout_forward(h, self.dropout_param)",
                                      "h, drop_cache = _own_dropout(h, self.dropout_param)")
    fc_net.write_text(text + "\n\n_own_dropout = dropout_forward\n")
    checks = by_id(grade(sub, spec, tmp_path))
    assert checks["fc_dropout_loss"].status == "passed"
    assert "self-consistency" in checks["fc_dropout_loss"].message


def test_ambiguous_layout_is_reported_not_guessed(tmp_path: Path) -> None:
    """nndl/ alone fits both UCLA courses equally well."""
    _skip_without("ucla-c147-2022")
    sub = tmp_path / "sub"
    shutil.copytree(COURSES["ucla-c147-2022"] / "nndl", sub / "nndl")
    (taken,) = intake.collect([sub], tmp_path / "intake", lms=False)
    result = api.grade_submission(taken, workdir=tmp_path / "work", sandbox="process")
    assert result.assignment == "" and result.error and "ambiguous" in result.error
    assert "ucla-c147-2022" in result.error and "ucla-ece239as-2018" in result.error


def test_flip_policy_credit_accepts_a_flipped_dropout(tmp_path: Path) -> None:
    _skip_without("cs231n-2021")
    from dataclasses import replace

    spec = api.get_spec("cs231n-2021")
    lenient = replace(spec, api=replace(spec.api, flip_policy="credit"))
    sub = plant(COURSES["cs231n-2021"], tmp_path / "sub", spec, "layers", """
        import numpy as np
        def dropout_forward(x, dropout_param):
            p = dropout_param['p']
            if 'seed' in dropout_param:
                np.random.seed(dropout_param['seed'])
            mask = None
            out = x
            if dropout_param['mode'] == 'train':
                mask = (np.random.rand(*x.shape) < 1 - p) / (1 - p)
                out = x * mask
            return out, (dropout_param, mask)
        """)
    strict = by_id(grade(sub, spec, tmp_path / "a"))["dropout_forward"]
    assert strict.status == "failed" and "flipped" in (strict.diagnosis or "")
    credited = by_id(grade(sub, lenient, tmp_path / "b"))["dropout_forward"]
    assert credited.status == "passed" and "accepted" in credited.message
