"""Spec loading and validation: every bundled spec is valid; errors name file, key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from assignments import spec_dir
from grader.cli import main
from grader.errors import SpecError
from grader.spec import load_spec

BUNDLED = sorted(spec_dir().glob("*.toml"))
VALID = (spec_dir() / "cs231n-2021.toml").read_text()


def test_there_are_bundled_specs() -> None:
    assert {p.stem for p in BUNDLED} >= {"cs231n-2021", "ucla-c147-2022", "cs182-sp25"}


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_spec_is_valid(path: Path) -> None:
    spec = load_spec(path)
    assert spec.id == path.stem
    assert spec.active_checks()
    assert all(c.part in {p.id for p in spec.parts} for c in spec.checks)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("schema_version = 1", "schema_version = 99", "schema_version", "not supported"),
        ('dropout_p = "keep"', 'dropout_p = "maybe"', "api.dropout_p", "not one of"),
        ('kind = "value"', 'kind = "magic"', "checks[0].kind", "not one of"),
        (
            'subject = "affine_forward"',
            'subject = "conv_forward"',
            "checks[0].subject",
            "cannot test",
        ),
        ('part = "fc"', 'part = "nope"', "checks[0].part", "unknown part"),
        ("points = 2", "points = -2", "checks[0].points", "must not be negative"),
        (
            '"cs231n/solver.py" = "solver"',
            '"cs231n/solver.py" = "layers"',
            "layout.given.cs231n/solver.py",
            "not one of",
        ),
        ("bn_mode_line", "bn_mode_lines", "api.bn_mode_lines", "unknown key"),
        (
            "shapes = { x = [2, 4, 5, 6]",
            "shapes = { x = [2, -4, 5, 6]",
            "checks[0].shapes.x",
            "positive integers",
        ),
        (
            "shapes = { x = [2, 4, 5, 6]",
            "shapes = { xx = [2, 4, 5, 6]",
            "checks[0].shapes.xx",
            "unknown key",
        ),
        (
            "dropout_keep = 0.75 }",
            "dropout_kep = 0.75 }",
            "checks[29].params.dropout_kep",
            "unknown key",
        ),
        (
            "params = { keep = [0.25, 0.4, 0.7] }",
            "params = { keep = [0.0, 1.5] }",
            "checks[27].params.keep",
            "keep probabilities",
        ),
        ("seed = 231", "seed = -1", "checks[0].seed", "not a valid seed"),
        (
            'normalization = "batchnorm", num_inputs = 4 }',
            'normalization = "batch", num_inputs = 4 }',
            "checks[24].params.normalization",
            "'batchnorm' or 'layernorm'",
        ),
        (
            'value_check = "affine_backward"',
            'value_check = "affine_backward_numeric"',
            "checks[2].value_check",
            "another check of kind 'value'",
        ),
        ('depends = ["fc_loss"]', 'depends = ["fc_loss_reg"]', "checks[9].depends[0]", "itself"),
        (
            'not_student_work = ["sgd_momentum"',
            'not_student_work = ["sgd_momentm"',
            "offerings.2025.not_student_work",
            "not a canonical name",
        ),
        ("upper = 50\n", "upper = 40\n", "final_accuracy.upper", "must not be below lower"),
    ],
)
def test_errors_name_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(path) in str(info.value)


def test_duplicate_ids_and_dangling_dependencies_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="duplicate check id 'affine_forward'"):
        load_spec(
            _write(tmp_path, VALID.replace('id = "affine_backward"', 'id = "affine_forward"', 1))
        )
    with pytest.raises(SpecError, match="unknown check 'relu_forwardd'"):
        load_spec(
            _write(
                tmp_path,
                VALID.replace('depends = ["relu_forward"]', 'depends = ["relu_forwardd"]', 1),
            )
        )


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(_write(tmp_path, "schema_version = \n"))


def test_offering_overrides_api() -> None:
    spec = load_spec(spec_dir() / "cs231n-2021.toml")
    spec2025 = spec.for_offering("2025")
    assert {"sgd_momentum", "rmsprop", "adam"} <= set(spec2025.api.not_student_work)
    assert len(spec2025.active_checks()) < len(spec.active_checks())
    assert all(
        c.subject not in ("adam", "rmsprop", "sgd_momentum") for c in spec2025.active_checks()
    )


def test_cli_spec_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "validate", str(BUNDLED[0])]) == 0
    assert "ok" in capsys.readouterr().out
    bad = _write(tmp_path, VALID.replace('kind = "value"', 'kind = "magic"', 1))
    assert main(["spec", "validate", str(bad)]) == 3
    assert "checks[0].kind" in capsys.readouterr().err


def test_limits_come_from_defaults_then_spec_then_command_line(tmp_path: Path) -> None:
    from grader.sandbox import Limits

    text = VALID.replace("check_seconds = 60", "check_seconds = 12")
    spec = load_spec(_write(tmp_path, text))
    assert Limits.layered(spec.limits).check_seconds == 12
    assert Limits.layered(spec.limits).cpu_seconds == Limits().cpu_seconds
    assert Limits.layered(spec.limits, {"check_seconds": 3.0}).check_seconds == 3.0
    with pytest.raises(SpecError, match="unknown key"):
        load_spec(_write(tmp_path, VALID.replace("check_seconds = 60", "wall = 60")))


def test_a_limit_may_be_given_in_the_options_units(tmp_path: Path) -> None:
    """``disk_mb = 100`` is ``--disk-mb 100``: the same limit as ``disk_bytes = 100 MiB``;
    giving one limit twice, under both names, is an error."""
    from grader.sandbox import Limits

    spec = load_spec(_write(tmp_path, VALID.replace("check_seconds = 60", "disk_mb = 100")))
    assert Limits.layered(spec.limits).disk_bytes == 100 * 2**20
    twice = VALID.replace("check_seconds = 60", "disk_mb = 100\ndisk_bytes = 1024")
    with pytest.raises(SpecError, match="disk_bytes given once"):
        load_spec(_write(tmp_path, twice))
    with pytest.raises(SpecError, match="must be positive"):
        load_spec(_write(tmp_path, VALID.replace("check_seconds = 60", "timeout = 0")))


def test_a_runtime_names_distributions(tmp_path: Path) -> None:
    with_runtime = VALID + '\n[runtime]\npackages = ["matplotlib", "python-dateutil"]\n'
    assert load_spec(_write(tmp_path, with_runtime)).runtime == ("matplotlib", "python-dateutil")
    assert load_spec(_write(tmp_path, VALID)).runtime == ()
    with pytest.raises(SpecError, match=r"runtime\.packages"):
        load_spec(_write(tmp_path, VALID + '\n[runtime]\npackages = ["../evil"]\n'))


def test_a_service_table_sets_the_submissions_per_hour(tmp_path: Path) -> None:
    from grader.executors.job import Settings
    from grader.fingerprint import settings_digest

    limited = load_spec(_write(tmp_path, VALID + "\n[service]\nsubmissions_per_hour = 4\n"))
    assert limited.service.submissions_per_hour == 4
    plain = load_spec(_write(tmp_path, VALID))
    assert plain.service.submissions_per_hour is None
    # What grades is the same: a batch's settings digest does not change with the service's limit.
    digests = {settings_digest(Settings(spec, "process"), ()) for spec in (limited, plain)}
    assert len(digests) == 1
    no_limit = load_spec(_write(tmp_path, VALID + "\n[service]\nsubmissions_per_hour = 0\n"))
    assert no_limit.service.submissions_per_hour == 0


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ("submissions_per_hour = -1", "service.submissions_per_hour", "must be 0 or more"),
        ('submissions_per_hour = "5"', "service.submissions_per_hour", "must be an integer"),
        ("submissions_per_hour = 2.5", "service.submissions_per_hour", "must be an integer"),
        ("submissions_per_hour = true", "service.submissions_per_hour", "must be an integer"),
        ("max_queue = 3", "service.max_queue", "unknown key"),
    ],
)
def test_a_service_table_names_its_errors(
    tmp_path: Path, table: str, key: str, problem: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, VALID + f"\n[service]\n{table}\n"))
    assert (info.value.key, problem in info.value.problem) == (key, True)


def test_float32_outputs_get_at_least_the_specs_float32_tolerance() -> None:
    from dataclasses import replace

    from grader.spec import Tolerance

    spec = load_spec(spec_dir() / "cs231n-2021.toml")
    check = next(c for c in spec.checks if c.tolerance is not None)
    assert spec.tolerance(check, "float64") == check.tolerance
    f32 = spec.tolerances["float32"]
    assert spec.tolerance(check, "float32") == Tolerance(
        max(check.tolerance.rtol, f32.rtol), max(check.tolerance.atol, f32.atol)
    )
    loose = replace(check, tolerance=Tolerance(1e-2, 1e-2))
    assert spec.tolerance(loose, "float32") == Tolerance(1e-2, 1e-2)


def test_every_bundled_gradient_check_pays_only_with_its_value_check() -> None:
    """The numeric gradient of a gradient check is computed in the student's process (a claim):
    the points must also need a value check the grading process decided (docs/sandbox.md)."""
    from grader.spec.registry import available_specs

    for spec in available_specs().values():
        for check in spec.checks:
            if check.kind == "gradient":
                assert check.award == "with_value" and check.value_check, (spec.id, check.id)
