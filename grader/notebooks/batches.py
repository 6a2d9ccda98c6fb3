"""The CIFAR-10 folder an executed notebook sees: the training batches only (``stage_batches``).

The notebooks load CIFAR-10 from ``cs231n/datasets/cifar-10-batches-py`` and print their
validation accuracy on the last 1,000 training images, so they need ``data_batch_1`` … ``_5``.
The test batch is the grader's held-out set and never enters the sandbox: the course loaders
read a ``test_batch`` all the same, so the folder holds a stand-in of the same layout with every
pixel and label zero. The batches are linked, not copied (150 MB per submission); the sandbox
binds their real files read-only (``Sandbox(data=...)``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["FOLDER", "TEST_ROWS", "stage_batches"]

FOLDER = "cifar-10-batches-py"
TEST_ROWS = 10_000
"""The loaders reshape the test batch to (10000, 3, 32, 32): the stand-in has as many rows."""


def stage_batches(source: Path, dest: Path) -> tuple[Path, list[Path]]:
    """Make ``dest/cifar-10-batches-py`` with links to ``source``'s training batches.

    Args:
        source: A CIFAR-10 python folder (``--data``).
        dest: A folder of the grader's, created if needed.

    Returns:
        The staged folder and the real host files its links reach (to bind into the sandbox).
    """
    folder = dest / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    reached: list[Path] = []
    for path in sorted(source.glob("data_batch_*")) + sorted(source.glob("batches.meta")):
        real = path.resolve()
        if real.is_file():  # a link to elsewhere is followed once, here, by the grader
            (folder / path.name).symlink_to(real)
            reached.append(real)
    _write_test_stand_in(folder / "test_batch")
    return folder, reached


def _write_test_stand_in(path: Path) -> None:
    """A ``test_batch`` with the official layout (as the course loaders read it) and no data."""
    stand_in = {
        "batch_label": "nngrader stand-in: the test batch is held out",
        "labels": [0] * TEST_ROWS,
        "data": np.zeros((TEST_ROWS, 3 * 32 * 32), dtype=np.uint8),
        "filenames": ["held_out.png"] * TEST_ROWS,
    }
    with path.open("wb") as out:
        pickle.dump(stand_in, out, protocol=2)
    path.chmod(0o644)
