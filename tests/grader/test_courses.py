"""End to end, per course: correct submissions score full marks; planted mistakes lose their checks.

Mistakes are planted by appending a wrapper to the student's module that perturbs one function,
or by editing one line of the bundled correct example (helpers in ``planting.py``, shared with
``test_diagnosis.py``). Submissions run in plain processes (`--sandbox process`): these are the
project's own files; the sandbox has its own suite. The bundled examples themselves are graded
once per session (the ``bundled_results`` fixture) and their results shared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import api, intake
from grader.spec import Check, Spec
from grader.workspace import detect
from tests.bundled import BundledResults
from tests.grader.planting import (
    COURSES,
    bn_net,
    by_id,
    course_spec,
    failures,
    grade,
    grade_or_share,
    just,
    lost,
    of,
    own_dropout,
    plant,
    scored,
    skip_without,
    uses,
)

MODEL_KINDS = ("model_init", "model_loss", "solver")

pytestmark = pytest.mark.slow


# -- correct submissions --------------------------------------------------------------------------


@pytest.mark.parametrize("course", list(COURSES))
def test_correct_submission_scores_full_marks(course: str, bundled_results: BundledResults) -> None:
    skip_without(course)
    result = bundled_results.result(f"{course}/correct")
    assert failures(result) == []
    assert result.score == result.max_score > 0
    assert {c.check_id for c in result.checks} == {
        c.id for c in course_spec(course).active_checks()
    }


@pytest.mark.parametrize("course", list(COURSES))
def test_detection_picks_the_course_of_each_correct_example(course: str, tmp_path: Path) -> None:
    """Without --assignment the layout and signatures decide, and the evidence is reported."""
    skip_without(course)
    (sub,) = intake.collect([COURSES[course]], tmp_path / "intake", lms=False)
    found = detect.detect(sub.root, api.available_specs().values())
    assert found.spec is not None and found.spec.id == course, found.evidence
    spec = course_spec(course)
    assert found.evidence.startswith(f"detected {course}")
    assert all(f"package {p}/" in found.evidence for p in spec.detect.get("packages", [])), (
        found.evidence
    )
    assert all(
        f"mentions {p!r}" in found.evidence
        for ps in spec.detect.get("patterns", {}).values()
        for p in ps
    )


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


def with_bn_line(
    src: Path, dest: Path, spec: Spec, line: str, *edits: tuple[str, str, str]
) -> Path:
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


@pytest.mark.parametrize(
    ("course", "line"),
    [
        ("ucla-ece239as-2018", "starter"),
        ("ucla-ece239as-2018", "fixed"),
        ("ucla-c147-2022", "starter"),
        ("ucla-c147-2022", "fixed"),
        ("cs231n-2017@2016", "starter"),
        ("cs231n-2017@2016", "fixed"),
    ],
)
def test_either_bn_mode_line_scores_full_marks(
    course: str, line: str, tmp_path: Path, bundled_results: BundledResults
) -> None:
    """Courses with ``bn_mode_line = "either"`` accept the starter's line and a student's fix
    of it."""
    name = course.partition("@")[0]
    skip_without(name)
    spec = course_spec(course)
    assert spec.api.bn_mode_line == "either"
    edits = (ADAM_T0,) if course == "cs231n-2017@2016" else ()
    sub = with_bn_line(COURSES[name], tmp_path / "sub", spec, line, *edits)
    # Under the course's own spec only fc_net differs from the correct example (the fixed line is
    # the example's own, whose shared result then serves); an offering's spec differs everywhere.
    result = grade_or_share(
        sub, spec, tmp_path, bundled_results, only="fc_net" if course == name else None
    )
    assert failures(result) == []
    assert result.score == result.max_score > 0


@pytest.mark.parametrize("line", ["starter", "fixed"])
def test_cs182_requires_the_starter_bn_mode_line(
    line: str, tmp_path: Path, bundled_results: BundledResults
) -> None:
    """CS182's fixed expected output (variants.md §6.4 item 5) needs BN in train mode in loss(X)."""
    skip_without("cs182-sp25")
    spec = course_spec("cs182-sp25")
    sub = with_bn_line(COURSES["cs182-sp25"], tmp_path / "sub", spec, line)
    # The example has the starter line: that case is the example itself, graded once per session.
    result = grade_or_share(sub, spec, tmp_path, bundled_results, only="fc_net")
    # With the fixed line every batchnorm net's test-mode scores use the running statistics.
    assert lost(result) == (
        set() if line == "starter" else of(spec, "FullyConnectedNet", where=bn_net)
    ), failures(result)
    assert ("fc_bn_forward_output" in lost(result)) is (line == "fixed")


def test_cs231n_2021_offering_2025_does_not_grade_the_given_optimizers(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    spec = course_spec("cs231n-2021@2025")
    result = grade(COURSES["cs231n-2021"], spec, tmp_path)
    assert failures(result) == [] and result.score == result.max_score > 0
    ran = {c.check_id for c in result.checks}
    optimizer_checks = {
        c.id
        for c in course_spec("cs231n-2021").checks
        if c.kind == "value" and c.subject in ("sgd_momentum", "rmsprop", "adam")
    }
    assert optimizer_checks and not ran & optimizer_checks


@pytest.mark.parametrize("course", ["cs231n-2021@2025", "cs182-sp25"])
def test_a_broken_given_optimizer_costs_nothing(course: str, tmp_path: Path) -> None:
    """Where the optimizers are given (CS231n 2025, variants.md §2.5; CS182, §6), no points depend
    on what optim.py holds: the training check must train with the given update rule."""
    name = course.partition("@")[0]
    skip_without(name)
    spec = course_spec(course)
    assert {"sgd_momentum", "rmsprop", "adam"} <= set(spec.api.not_student_work)
    sub = plant(
        COURSES[name],
        tmp_path / "sub",
        spec,
        "optim",
        """
        def sgd_momentum(w, dw, config=None):
            raise NotImplementedError
        rmsprop = adam = sgd_momentum
        """,
    )
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
    if (
        check.kind == "solver"
        and check.params.get("update_rule", "adam") not in spec.api.not_student_work
    ):
        rule = check.params.get("update_rule", "adam")
        return (
            "optim",
            rule,
            f"""
            def {rule}(w, dw, config=None):
                return w, config if config is not None else {{}}
            """,
        )
    if check.kind == "solver":  # the update rule is given: a net whose gradients are all zero
        return (
            "fc_net",
            check.subject,
            f"""
            _planted_loss = {name}.loss
            def _planted(self, X, y=None):
                result = _planted_loss(self, X, y)
                return result if y is None else (result[0], {{k: 0 * v for k, v in result[1].items()}})
            {name}.loss = _planted
            """,  # noqa: E501,
        )
    if check.kind == "model_init":
        return (
            "fc_net",
            check.subject,
            f"""
            _planted_init = {name}.__init__
            def _planted(self, *args, **kwargs):
                _planted_init(self, *args, **kwargs)
                self.params["W1"] = self.params["W1"] * 3
            {name}.__init__ = _planted
            """,
        )
    if check.kind == "model_loss":
        return (
            "fc_net",
            check.subject,
            f"""
            _planted_loss = {name}.loss
            def _planted(self, X, y=None):
                result = _planted_loss(self, X, y)
                return result if y is None else (result[0] + 0.05, result[1])
            {name}.loss = _planted
            """,
        )
    module = spec.module_of(check.subject)
    return (
        module,
        check.subject,
        f"""
        _planted_fn = {name}
        def {name}(*args, **kwargs):
            result = _planted_fn(*args, **kwargs)
            if isinstance(result, tuple):
                return (result[0] * 1.1 + 0.01,) + result[1:]
            return result * 1.1 + 0.01
        """,
    )


def _plants() -> list[tuple[str, tuple[str, ...]]]:
    """(course, the scored checks one planted mistake targets), one entry per distinct plant."""
    out = []
    for course in COURSES:
        spec = course_spec(course)
        groups: dict[tuple[str, str], list[str]] = {}
        for check_id, check in scored(spec).items():
            module, _, code = mistake_for(check, spec)
            groups.setdefault((module, code), []).append(check_id)
        out += [(course, tuple(ids)) for ids in groups.values()]
    return out


@pytest.mark.parametrize(
    ("course", "targets"), _plants(), ids=lambda v: v if isinstance(v, str) else "+".join(v)
)
def test_each_planted_mistake_loses_its_checks(
    course: str, targets: tuple[str, ...], tmp_path: Path
) -> None:
    skip_without(course)
    spec = course_spec(course)
    target = next(c for c in spec.checks if c.id == targets[0])
    module, perturbed, code = mistake_for(target, spec)
    result = grade(
        plant(COURSES[course], tmp_path / "sub", spec, module, code), spec, tmp_path, only=module
    )
    got = lost(result)
    assert set(targets) <= got, failures(result)
    # Anything else it costs uses the perturbed function, and says which failure explains it.
    assert got <= set(targets) | uses(spec, perturbed), failures(result)
    checks = by_id(result)
    for check_id in got - of(spec, perturbed):
        assert checks[check_id].root_cause is not None, (check_id, checks[check_id].message)


def test_missing_raising_and_hanging_functions_fail_only_their_own_checks(
    bundled_results: BundledResults,
) -> None:
    """The bundled example whose layernorm_forward is missing, batchnorm_backward_alt raises
    ValueError("not implemented yet") and rmsprop never returns (``examples/make_buggy.py``)."""
    skip_without("cs231n-2021")
    name = "cs231n-2021/missing-raising-hanging"
    if name not in bundled_results:
        pytest.skip(f"bundled example {name} missing")
    spec = course_spec("cs231n-2021")
    result = bundled_results.result(name)
    checks = by_id(result)
    assert (
        checks["layernorm_forward"].status == "error"
        and "layernorm_forward" in checks["layernorm_forward"].message
    )
    assert (
        checks["batchnorm_backward_alt"].status == "error"
        and "not implemented yet" in checks["batchnorm_backward_alt"].message
    )
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
    spec = course_spec(course)
    keep = "dropout_param['p']" if spec.api.dropout_p == "keep" else "1 - dropout_param['p']"
    sub = plant(
        COURSES[course],
        tmp_path / "sub",
        spec,
        "layers",
        f"""
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
        """,
    )
    result = grade(sub, spec, tmp_path, only="layers")
    assert failures(result) == []


def test_float32_outputs_are_judged_with_the_float32_tolerance(tmp_path: Path) -> None:
    skip_without("cs231n-2021")
    spec = course_spec("cs231n-2021")
    sub = plant(
        COURSES["cs231n-2021"],
        tmp_path / "sub",
        spec,
        "layers",
        """
        import numpy as np
        _f64_affine_forward = affine_forward
        def affine_forward(x, w, b):
            out, cache = _f64_affine_forward(x, w, b)
            return out.astype(np.float32), cache
        """,
    )
    assert (
        by_id(grade(sub, just(spec, "affine_forward"), tmp_path))["affine_forward"].status
        == "passed"
    )


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
    spec = course_spec(course)
    assert spec.api.compat
    sub = plant(COURSES[course], tmp_path / "sub", spec, "layers", OLD_STYLE_LAYERS)
    utils = sub / spec.student_modules["layer_utils"]
    # The 2019 starter and daseCV import torch at module level in fast_layers.py, which
    # layer_utils.py imports (§11 item 6); the FC code never uses it.
    (utils.parent / "fast_layers.py").write_text(
        "from __future__ import print_function\nimport numpy as np\n"
        "import torch\n\n\ndef conv_forward_pytorch(x, w, b, conv_param):\n"
        "    return torch.nn.functional.conv2d(x, w, b)\n"
    )
    utils.write_text(utils.read_text() + "\nfrom .fast_layers import *\nimport torch\n")
    result = grade(sub, spec, tmp_path, only="layers")  # what imports layer_utils imports layers
    assert failures(result) == []
    assert result.score == result.max_score > 0


def test_a_net_that_does_not_call_dropout_forward_is_judged_without_injection(
    tmp_path: Path,
) -> None:
    """Masks cannot be injected into a dropout under another name: the net is judged without
    them."""
    skip_without("cs231n-2021")
    spec = course_spec("cs231n-2021")
    result = grade(
        own_dropout(COURSES["cs231n-2021"], tmp_path / "sub", spec), spec, tmp_path, only="fc_net"
    )
    assert failures(result) == []
    assert any("could not be injected" in note for note in by_id(result)["fc_dropout_loss"].notes)
