"""End to end, per course: correct submissions score full marks; planted mistakes lose their checks.

Mistakes are planted by appending a wrapper to the student's module that perturbs one function,
or by editing one line of the bundled correct example. Submissions run in plain processes
(`--sandbox process`): these are the project's own files; the sandbox has its own suite.

The helpers here (planting, and the expected set of lost checks derived from the spec's subjects
and ``depends``) are shared with ``test_diagnosis.py``.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from grader import api, detect, intake
from grader.engine import modules_needed
from grader.results import CheckResult, SubmissionResult
from grader.sandbox import Limits
from grader.spec import Check, Spec

ROOT = Path(__file__).resolve().parents[2]
COURSES = {  # spec id -> bundled correct example
    spec_id: ROOT / "examples" / spec_id / "correct"
    for spec_id in ("cs231n-2021", "ucla-c147-2022", "cs182-sp25", "cs231n-2017", "cs231n-2018", "dasecv-2021",
                    "ucla-ece239as-2018")
}
MODEL_KINDS = ("model_init", "model_loss", "solver")

# What importing a logical module imports as well, in every bundled layout (fc_net imports
# layers and layer_utils; layer_utils imports layers).
IMPORTS = {"layers": {"layers"}, "layer_utils": {"layers", "layer_utils"},
           "fc_net": {"layers", "layer_utils", "fc_net"}, "optim": {"optim"}}

pytestmark = pytest.mark.slow


# -- grading --------------------------------------------------------------------------------------


def touching(spec: Spec, module: str) -> Spec:
    """``spec`` with only the checks whose code imports ``module``.

    A change to one module cannot alter a check that never imports it, and every check of the
    full spec passes on the correct example (``test_correct_submission_scores_full_marks``), so
    grading a planted mistake on these checks alone decides exactly which checks it costs.
    """
    return replace(spec, checks=tuple(c for c in spec.checks
                                      if any(module in IMPORTS[m] for m in modules_needed(spec, c))))


def grade(path: Path, spec: Spec, tmp: Path, *, only: str | None = None, **limits: float) -> SubmissionResult:
    """Grade a submission folder; ``only``: just the checks that import that logical module."""
    (sub,) = intake.collect([path], tmp / "intake", lms=False)
    return api.grade_submission(sub, spec=touching(spec, only) if only else spec, workdir=tmp / "work",
                                sandbox="process", limits=Limits(**{"check_seconds": 20.0, **limits}))


def by_id(result: SubmissionResult) -> dict[str, CheckResult]:
    return {c.check_id: c for c in result.checks}


def lost(result: SubmissionResult) -> set[str]:
    """Checks with points that did not earn all of them."""
    return {c.check_id for c in result.checks if c.counts and c.max_score > 0 and c.score < c.max_score}


def failures(result: SubmissionResult) -> list[tuple[str, str, str | None]]:
    """(id, message, diagnosis) of every check that did not pass: the assertion messages."""
    return [(c.check_id, c.message, c.diagnosis) for c in result.checks if c.status != "passed" or c.score < c.max_score]


def plant(src: Path, dest: Path, spec: Spec, module: str, code: str) -> Path:
    """Copy the correct example and append ``code`` to one of its student modules."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules[module]
    path.write_text(path.read_text() + "\n\n" + textwrap.dedent(code))
    return dest


def patch(src: Path, dest: Path, spec: Spec, module: str, *edits: tuple[str, str]) -> Path:
    """Copy the correct example and replace text in one of its student modules."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules[module]
    text = path.read_text()
    for old, new in edits:
        assert old in text, f"{old!r} not in {path}"
        text = text.replace(old, new)
    path.write_text(text)
    return dest


def skip_without(course: str) -> None:
    if not COURSES[course].is_dir():
        pytest.skip(f"bundled example {COURSES[course]} missing")


# -- expected losses, derived from the spec -------------------------------------------------------


def scored(spec: Spec) -> dict[str, Check]:
    """The active checks that carry points."""
    return {c.id: c for c in spec.active_checks() if c.award != "informative" and c.points > 0}


def of(spec: Spec, *subjects: str, where: Callable[[Check], bool] = lambda c: True) -> set[str]:
    """Scored checks about one of ``subjects`` (those ``where`` accepts)."""
    return {i for i, c in scored(spec).items() if c.subject in subjects and where(c)}


def dependents(spec: Spec, ids: Iterable[str], where: Callable[[Check], bool] = lambda c: True) -> set[str]:
    """Scored checks that depend on one of ``ids`` (``depends`` or ``value_check``), transitively,
    through checks that ``where`` accepts."""
    found, start = set(ids), set(ids)
    grew = True
    while grew:
        grew = False
        for c in spec.active_checks():
            if c.id not in found and where(c) and ({*c.depends, c.value_check} & found):
                found.add(c.id)
                grew = True
    return (found - start) & set(scored(spec))


def uses(spec: Spec, *subjects: str) -> set[str]:
    """The scored checks of ``subjects`` and everything that depends on them."""
    own = of(spec, *subjects)
    return own | dependents(spec, own)


def students(subject: str, courses: Iterable[str] = COURSES) -> list[str]:
    """The courses in which ``subject`` is graded student work."""
    return [c for c in courses if of(api.get_spec(c), subject)]


def is_net(check: Check) -> bool:
    return check.kind == "model_loss"


def bn_net(check: Check) -> bool:
    return is_net(check) and check.params.get("normalization") == "batchnorm"


def dropout_net(check: Check) -> bool:
    return is_net(check) and check.params.get("dropout_keep", 1) != 1


def regularized(check: Check) -> bool:
    return is_net(check) and check.params.get("reg", 0) != 0


# -- correct submissions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def correct_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SubmissionResult]:
    out = {}
    for course, path in COURSES.items():
        if path.is_dir():
            out[course] = grade(path, api.get_spec(course), tmp_path_factory.mktemp(course))
    return out


@pytest.mark.parametrize("course", list(COURSES))
def test_correct_submission_scores_full_marks(course: str, correct_results: dict[str, SubmissionResult]) -> None:
    skip_without(course)
    result = correct_results[course]
    assert failures(result) == []
    assert result.score == result.max_score > 0
    assert {c.check_id for c in result.checks} == {c.id for c in api.get_spec(course).active_checks()}


@pytest.mark.parametrize("course", list(COURSES))
def test_detection_picks_the_course_of_each_correct_example(course: str, tmp_path: Path) -> None:
    """Without --assignment the layout and signatures decide, and the evidence is reported."""
    skip_without(course)
    (sub,) = intake.collect([COURSES[course]], tmp_path / "intake", lms=False)
    found = detect.detect(sub.root, api.available_specs().values())
    assert found.spec is not None and found.spec.id == course, found.evidence
    spec = api.get_spec(course)
    assert found.evidence.startswith(f"detected {course}")
    assert all(f"package {p}/" in found.evidence for p in spec.detect.get("packages", [])), found.evidence
    assert all(f"mentions {p!r}" in found.evidence for ps in spec.detect.get("patterns", {}).values() for p in ps)


def test_ambiguous_layout_is_reported_not_guessed(tmp_path: Path) -> None:
    """nndl/ alone fits both UCLA courses equally well."""
    skip_without("ucla-c147-2022")
    sub = tmp_path / "sub"
    shutil.copytree(COURSES["ucla-c147-2022"] / "nndl", sub / "nndl")
    (taken,) = intake.collect([sub], tmp_path / "intake", lms=False)
    result = api.grade_submission(taken, workdir=tmp_path / "work", sandbox="process")
    assert result.assignment == "" and result.error and "ambiguous" in result.error
    assert "ucla-c147-2022" in result.error and "ucla-ece239as-2018" in result.error


# -- offerings ------------------------------------------------------------------------------------

STARTER_BN_LINE = "bn_param[mode] = mode"
FIXED_BN_LINES = ("bn_param['mode'] = mode", 'bn_param["mode"] = mode')


def with_bn_line(src: Path, dest: Path, spec: Spec, line: str, *edits: tuple[str, str, str]) -> Path:
    """The correct example with the starter's (2016-lineage) or the fixed BN mode line in loss()."""
    shutil.copytree(src, dest)
    path = dest / spec.student_modules["fc_net"]
    text = path.read_text()
    for fixed in FIXED_BN_LINES:
        text = text.replace(fixed, STARTER_BN_LINE) if line == "starter" else text
    if line == "fixed":
        text = text.replace(STARTER_BN_LINE, FIXED_BN_LINES[0])
    assert (STARTER_BN_LINE in text) is (line == "starter")
    path.write_text(text)
    for module, old, new in edits:
        target = dest / spec.student_modules[module]
        assert old in target.read_text()
        target.write_text(target.read_text().replace(old, new))
    return dest


# The 2016 starter's adam defaults t to 0 (variants.md §3.5); the 2017 example defaults it to 1.
ADAM_T0 = ("optim", 'config.setdefault("t", 1)', 'config.setdefault("t", 0)')


@pytest.mark.parametrize(("course", "line"), [
    ("ucla-ece239as-2018", "starter"), ("ucla-ece239as-2018", "fixed"),
    ("ucla-c147-2022", "starter"), ("ucla-c147-2022", "fixed"),
    ("cs231n-2017@2016", "starter"), ("cs231n-2017@2016", "fixed"),
])
def test_either_bn_mode_line_scores_full_marks(course: str, line: str, tmp_path: Path) -> None:
    """Courses with ``bn_mode_line = "either"`` accept the starter's line and a student's fix of it."""
    name = course.partition("@")[0]
    skip_without(name)
    spec = api.get_spec(course)
    assert spec.api.bn_mode_line == "either"
    edits = (ADAM_T0,) if course == "cs231n-2017@2016" else ()
    result = grade(with_bn_line(COURSES[name], tmp_path / "sub", spec, line, *edits), spec, tmp_path)
    assert failures(result) == []
    assert result.score == result.max_score > 0


@pytest.mark.parametrize("line", ["starter", "fixed"])
def test_cs182_requires_the_starter_bn_mode_line(line: str, tmp_path: Path) -> None:
    """CS182's fixed expected output (variants.md §6.4 item 5) needs BN in train mode in loss(X)."""
    skip_without("cs182-sp25")
    spec = api.get_spec("cs182-sp25")
    result = grade(with_bn_line(COURSES["cs182-sp25"], tmp_path / "sub", spec, line), spec, tmp_path, only="fc_net")
    # With the fixed line every batchnorm net's test-mode scores use the running statistics.
    assert lost(result) == (set() if line == "starter" else of(spec, "FullyConnectedNet", where=bn_net)), failures(result)
    assert ("fc_bn_forward_output" in lost(result)) is (line == "fixed")


def test_cs231n_2021_offering_2025_does_not_grade_the_given_optimizers(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021@2025")
    result = grade(COURSES["cs231n-2021"], spec, tmp_path)
    assert failures(result) == [] and result.score == result.max_score > 0
    ran = {c.check_id for c in result.checks}
    optimizer_checks = {c.id for c in api.get_spec("cs231n-2021").checks if c.kind == "value"
                        and c.subject in ("sgd_momentum", "rmsprop", "adam")}
    assert optimizer_checks and not ran & optimizer_checks


@pytest.mark.parametrize("course", ["cs231n-2021@2025", "cs182-sp25"])
@pytest.mark.xfail(reason="known bug: train_adam trains with the submission's own optim.py even where the "
                   "optimizers are given (not_student_work); the fix belongs in grader/subjects/training.py",
                   strict=True)
def test_a_broken_given_optimizer_costs_nothing(course: str, tmp_path: Path) -> None:
    """Where the optimizers are given (CS231n 2025, variants.md §2.5; CS182, §6), no points depend
    on what optim.py holds: the training check must train with the given update rule."""
    name = course.partition("@")[0]
    skip_without(name)
    spec = api.get_spec(course)
    assert {"sgd_momentum", "rmsprop", "adam"} <= set(spec.api.not_student_work)
    sub = plant(COURSES[name], tmp_path / "sub", spec, "optim", """
        def sgd_momentum(w, dw, config=None):
            raise NotImplementedError
        rmsprop = adam = sgd_momentum
        """)
    result = grade(sub, spec, tmp_path, only="optim")
    assert failures(result) == []


# -- one generic mistake per function: it costs that function's checks and their dependents --------


def mistake_for(check: Check, spec: Spec) -> tuple[str, str, str]:
    """(module, perturbed subject, code) that makes ``check`` fail.

    Generic perturbations (outputs scaled, a constant added to the loss): what else they cost
    depends on how each check uses the output, so the test bounds it by the spec rather than
    naming it; ``test_diagnosis.py`` names the exact set for each known mistake.
    """
    name = spec.api.name(check.subject)
    if check.kind == "solver" and check.params.get("update_rule", "adam") not in spec.api.not_student_work:
        rule = check.params.get("update_rule", "adam")
        return "optim", rule, f"""
            def {rule}(w, dw, config=None):
                return w, config if config is not None else {{}}
            """
    if check.kind == "solver":  # the update rule is given: a net whose gradients are all zero
        return "fc_net", check.subject, f"""
            _planted_loss = {name}.loss
            def _planted(self, X, y=None):
                result = _planted_loss(self, X, y)
                return result if y is None else (result[0], {{k: 0 * v for k, v in result[1].items()}})
            {name}.loss = _planted
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


def _plants() -> list[tuple[str, tuple[str, ...]]]:
    """(course, the scored checks one planted mistake targets), one entry per distinct plant."""
    out = []
    for course in COURSES:
        spec = api.get_spec(course)
        groups: dict[tuple[str, str], list[str]] = {}
        for check_id, check in scored(spec).items():
            module, _, code = mistake_for(check, spec)
            groups.setdefault((module, code), []).append(check_id)
        out += [(course, tuple(ids)) for ids in groups.values()]
    return out


@pytest.mark.parametrize(("course", "targets"), _plants(), ids=lambda v: v if isinstance(v, str) else "+".join(v))
def test_each_planted_mistake_loses_its_checks(course: str, targets: tuple[str, ...], tmp_path: Path) -> None:
    skip_without(course)
    spec = api.get_spec(course)
    target = next(c for c in spec.checks if c.id == targets[0])
    module, perturbed, code = mistake_for(target, spec)
    result = grade(plant(COURSES[course], tmp_path / "sub", spec, module, code), spec, tmp_path, only=module)
    got = lost(result)
    assert set(targets) <= got, failures(result)
    # Anything else it costs uses the perturbed function, and says which failure explains it.
    assert got <= set(targets) | uses(spec, perturbed), failures(result)
    checks = by_id(result)
    for check_id in got - of(spec, perturbed):
        assert checks[check_id].root_cause is not None, (check_id, checks[check_id].message)


def test_missing_raising_and_hanging_functions_fail_only_their_own_checks(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = plant(COURSES["cs231n-2021"], tmp_path / "s1", spec, "layers", """
        del layernorm_forward
        def batchnorm_backward_alt(dout, cache):
            raise ValueError("not done yet")
        """)
    path = sub / spec.student_modules["optim"]
    path.write_text(path.read_text() + "\n\ndef rmsprop(w, dw, config=None):\n    while True:\n        pass\n")
    result = grade(sub, spec, tmp_path, check_seconds=2.0)
    checks = by_id(result)
    assert checks["layernorm_forward"].status == "error" and "layernorm_forward" in checks["layernorm_forward"].message
    assert checks["batchnorm_backward_alt"].status == "error" and "not done yet" in checks["batchnorm_backward_alt"].message
    assert checks["rmsprop"].status == "timeout"
    # The nets call batchnorm_backward, not the alternative, and train with adam, not rmsprop.
    expected = uses(spec, "layernorm_forward") | of(spec, "batchnorm_backward_alt", "rmsprop")
    assert lost(result) == expected, failures(result)


# -- valid variations ------------------------------------------------------------------------------

MASKS = {
    "U < keep": "(np.random.rand(*x.shape) < keep) / keep",
    "U >= 1 - keep": "(np.random.rand(*x.shape) >= 1 - keep) / keep",
    "binomial": "np.random.binomial(1, keep, size=x.shape) / keep",
}


@pytest.mark.parametrize("course", list(COURSES))
@pytest.mark.parametrize("convention", list(MASKS))
def test_any_mask_convention_is_accepted(course: str, convention: str, tmp_path: Path) -> None:
    skip_without(course)
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
    result = grade(sub, spec, tmp_path, only="layers")
    assert failures(result) == []


def test_float32_outputs_are_judged_with_the_float32_tolerance(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = plant(COURSES["cs231n-2021"], tmp_path / "sub", spec, "layers", """
        import numpy as np
        _f64_affine_forward = affine_forward
        def affine_forward(x, w, b):
            out, cache = _f64_affine_forward(x, w, b)
            return out.astype(np.float32), cache
        """)
    assert by_id(grade(sub, spec, tmp_path, only="layers"))["affine_forward"].status == "passed"


OLD_STYLE_LAYERS = """
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
"""


@pytest.mark.parametrize("course", ["cs231n-2021", "cs231n-2017", "cs231n-2018", "dasecv-2021"])
def test_old_style_code_passes_under_the_compatibility_shim(course: str, tmp_path: Path) -> None:
    """Python 3 code written for old numpy and the old starters (variants.md §11) still imports."""
    skip_without(course)
    spec = api.get_spec(course)
    assert spec.api.compat
    sub = plant(COURSES[course], tmp_path / "sub", spec, "layers", OLD_STYLE_LAYERS)
    utils = sub / spec.student_modules["layer_utils"]
    # The 2019 starter and daseCV import torch at module level in fast_layers.py, which
    # layer_utils.py imports (§11 item 6); the FC code never uses it.
    (utils.parent / "fast_layers.py").write_text("from __future__ import print_function\nimport numpy as np\n"
                                                 "import torch\n\n\ndef conv_forward_pytorch(x, w, b, conv_param):\n"
                                                 "    return torch.nn.functional.conv2d(x, w, b)\n")
    utils.write_text(utils.read_text() + "\nfrom .fast_layers import *\nimport torch\n")
    result = grade(sub, spec, tmp_path)
    assert failures(result) == []
    assert result.score == result.max_score > 0


def test_a_net_that_does_not_call_dropout_forward_is_judged_without_injection(tmp_path: Path) -> None:
    """Masks cannot be injected into a dropout under another name: the net is judged without them."""
    skip_without("cs231n-2021")
    spec = api.get_spec("cs231n-2021")
    sub = patch(COURSES["cs231n-2021"], tmp_path / "sub", spec, "fc_net",
                ("h, drop_cache = dropout_forward(h, self.dropout_param)",
                 "h, drop_cache = _own_dropout(h, self.dropout_param)"))
    fc_net = sub / spec.student_modules["fc_net"]
    fc_net.write_text(fc_net.read_text() + "\n\n_own_dropout = dropout_forward\n")
    result = grade(sub, spec, tmp_path, only="fc_net")
    assert failures(result) == []
    assert "could not be injected" in by_id(result)["fc_dropout_loss"].message
