"""The child's record of which student functions ran (``grader/child/reached.py``).

Only functions whose code lies in the workspace are recorded, only since the last ``clear``
(the harness clears it at every ``reset``), and a record the student's code could have cut short
(the hook removed) is reported as unknown rather than as nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from grader.child.reached import Reached

STUDENT = """
import json


def batchnorm_forward(x):
    return helper(x) + 1


def helper(x):
    return x * 2


def silence():
    import sys
    sys.setprofile(None)
"""


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("student_layers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def reached(tmp_path: Path) -> Iterator[tuple[Reached, ModuleType]]:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "layers.py").write_text(STUDENT)
    module = load(tmp_path / "ws" / "layers.py")
    before = sys.getprofile()
    record = Reached()
    record.install(str(tmp_path / "ws"))
    try:
        yield record, module
    finally:
        sys.setprofile(before)


def test_only_workspace_functions_called_since_clear_are_recorded(
    reached: tuple[Reached, ModuleType],
) -> None:
    record, module = reached
    module.helper(1)
    record.clear()
    assert record.record() == []
    assert module.batchnorm_forward(1) == 3
    module.json.dumps([1])  # a library's code is not the student's
    assert record.record() == ["batchnorm_forward", "helper"]


def test_a_removed_hook_makes_the_record_unknown_and_is_put_back(
    reached: tuple[Reached, ModuleType],
) -> None:
    record, module = reached
    module.silence()
    module.batchnorm_forward(1)
    assert record.record() is None
    module.batchnorm_forward(1)
    assert record.record() == ["batchnorm_forward", "helper", "silence"]
