"""Fixtures shared by the intake tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def keep_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep what a refused extraction wrote, so tests can measure it (intake deletes it)."""
    from grader.intake import take

    monkeypatch.setattr(take.shutil, "rmtree", lambda *args, **kwargs: None)
