"""The compatibility shim: old imports and removed numpy aliases work, nothing existing changes.

Each test runs in a fresh interpreter: the shim patches numpy, which must not leak into this
process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD_DIR = Path(__file__).resolve().parents[3] / "grader"


def run_with_shim(code: str) -> subprocess.CompletedProcess[str]:
    prelude = (
        f"import sys; sys.path.insert(0, {str(CHILD_DIR)!r})\n"
        "from child import compat\ncompat.install()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "import torch",
        "from torch import nn",
        "import torch.nn.functional as F",
        "import torch.nn as nn",
        "from torchvision import transforms",
        "from past.builtins import xrange; assert list(xrange(2)) == [0, 1]",
        "from future import standard_library; standard_library.install_aliases()",
        "from builtins import range, object",
        "from six.moves import cPickle",
    ],
)
def test_old_module_level_imports_load(statement: str) -> None:
    done = run_with_shim(statement)
    assert done.returncode == 0, done.stderr


def test_the_torch_stand_in_refuses_to_be_used() -> None:
    done = run_with_shim("import torch\ntorch.zeros(3)\n")
    assert done.returncode != 0 and "not available to the grader" in done.stderr


def test_removed_numpy_aliases_mean_what_they_meant() -> None:
    done = run_with_shim("""
        import numpy as np
        assert np.zeros(2, dtype=np.float).dtype == np.float64
        assert np.int is int and np.object is object
        assert np.isnan(np.NaN) and np.Inf == float("inf")
        assert np.bool(1) == True  # np.bool (1.24-1.26: missing) is a bool type either way
        print(np.__version__)
    """)
    assert done.returncode == 0, done.stderr


def test_names_that_still_exist_are_untouched() -> None:
    code = f"""
import sys; sys.path.insert(0, {str(CHILD_DIR)!r})
import numpy as np
before = dict(vars(np))
from child import compat
compat.install()
changed = [k for k, v in before.items() if vars(np)[k] is not v]
added = sorted(set(vars(np)) - set(before))
assert not changed, changed
assert added and all(k in compat.NUMPY_ALIASES for k in added), added
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
