"""Which of the student's functions ran since the last ``reset`` (the harness's ``reached`` op).

A profile hook notes the name of every function whose code lies in the student's workspace when
it is called. The grading process reads the record only to decide which failed dependency a
report may name as a failure's root cause (a check that never ran the student's
``batchnorm_forward`` cannot have failed because of it), never for points: it is the child's
claim, and student code could silence the hook.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["Reached"]


class Reached:
    """The names of the workspace functions called while the hook is installed."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._root = ""
        # code object -> its name when it is the student's, "" otherwise: decided once per code.
        self._codes: dict[Any, str] = {}

    def install(self, workspace: str) -> None:
        """Start recording calls into ``workspace``'s files (this thread)."""
        self._root = os.path.join(os.path.realpath(workspace), "")
        sys.setprofile(self._hook)

    def clear(self) -> None:
        self.names.clear()

    def record(self) -> list[str] | None:
        """The names recorded since ``clear``; None when the hook was removed meanwhile (the
        record is then incomplete, and the hook is installed again)."""
        if sys.getprofile() != self._hook:
            sys.setprofile(self._hook)
            return None
        return sorted(self.names)

    def _hook(self, frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        name = self._codes.get(code)
        if name is None:
            path = os.path.realpath(code.co_filename) if code.co_filename else ""
            name = code.co_name if self._root and path.startswith(self._root) else ""
            self._codes[code] = name
        if name:
            self.names.add(name)
