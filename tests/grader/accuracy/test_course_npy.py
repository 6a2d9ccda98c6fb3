"""The course's pickled .npy: opened in the sandbox only, its arrays validated on the host."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from grader.accuracy.artifact import ArtifactError
from grader.accuracy.course_npy import course_model, load_in_sandbox
from grader.sandbox import Limits, resolve_mode
from grader.workspace.stage import stage_runtime
from tests.grader.accuracy.conftest import random_net
from tests.sandbox_support import sandbox_problems, sandbox_unusable

pytestmark = pytest.mark.sandbox


class Payload:
    """Unpickled, it creates the marker file wherever the unpickling process can write."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}; touch marker-in-cwd",))


@pytest.fixture
def staged(tmp_path: Path) -> dict[str, Path]:
    problems = sandbox_problems()
    if problems:
        sandbox_unusable("; ".join(problems))
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    workspace = work / "src"
    workspace.mkdir()
    output = work / "output.txt"
    output.touch(mode=0o600)
    return {"workspace": workspace, "runtime": stage_runtime(work / "runtime"), "output": output}


def load(path: Path, staged: dict[str, Path]):  # type: ignore[no-untyped-def]
    return load_in_sandbox(path, isolation=resolve_mode("auto"), limits=Limits(), **staged)


def test_an_honest_course_file_comes_back_as_its_arrays(
    tmp_path: Path, staged: dict[str, Path]
) -> None:
    arrays = random_net((12,))
    path = tmp_path / "best_two_layer_net.npy"
    np.save(path, arrays)  # the course's model.save
    model = load(path, staged)
    assert model.hidden_dims == (12,) and model.normalization == "none"
    np.testing.assert_array_equal(model.params["W1"], arrays["W1"])


def test_a_pickle_that_runs_code_runs_it_in_the_sandbox_never_here(
    tmp_path: Path, staged: dict[str, Path]
) -> None:
    marker = tmp_path / "host-marker"
    path = tmp_path / "model.npy"
    np.save(path, np.array(Payload(str(marker)), dtype=object), allow_pickle=True)
    # "raised in the sandbox": the child unpickled it, ran os.system, and refused the int it got.
    with pytest.raises(ArtifactError, match="model file \\(raised in the sandbox\\)"):
        load(path, staged)
    # The payload ran in the child (os.system returned an int, not a dict), but the host path is
    # outside the sandbox's view, and the grading process never unpickled it.
    assert not marker.exists()
    assert not Path("marker-in-cwd").exists()


def test_a_reply_that_is_not_float_arrays_is_rejected() -> None:
    with pytest.raises(ArtifactError, match="dict of arrays"):
        course_model({"W1": "text"})
    with pytest.raises(ArtifactError, match="no running statistics"):
        course_model(random_net(normalization="layernorm"))
