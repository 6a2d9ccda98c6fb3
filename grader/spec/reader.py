"""Typed access to a parsed TOML table that names the file and the dotted key in every error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.errors import SpecError

__all__ = ["REQUIRED", "Reader"]

REQUIRED: Any = object()
"""Default marking a key that must be present."""


class Reader:
    """Typed access to a TOML table that reports the file and dotted key on every error."""

    def __init__(self, raw: Any, path: Path, prefix: str) -> None:
        if not isinstance(raw, dict):
            raise SpecError(path, prefix, "must be a table")
        self.raw = raw
        self.path = path
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def keys(self) -> list[str]:
        return list(self.raw)

    def only(self, *allowed: str) -> None:
        for k in self.raw:
            if k not in allowed:
                raise SpecError(
                    self.path, self.key(k), f"unknown key; allowed here: {', '.join(allowed)}"
                )

    def _get(self, name: str, types: tuple[type, ...], default: Any, what: str) -> Any:
        if name not in self.raw:
            if default is REQUIRED:
                raise SpecError(self.path, self.key(name), "is required")
            return default
        value = self.raw[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise SpecError(
                self.path, self.key(name), f"must be {what}, not {type(value).__name__}"
            )
        return value

    def text(self, name: str, default: Any = None) -> Any:
        return self._get(name, (str,), REQUIRED if default is None else default, "a string")

    def integer(self, name: str, default: Any = None) -> Any:
        return self._get(name, (int,), REQUIRED if default is None else default, "an integer")

    def number(self, name: str, default: Any = None) -> float:
        return float(
            self._get(name, (int, float), REQUIRED if default is None else default, "a number")
        )

    def flag(self, name: str, default: bool) -> bool:
        return bool(self._get(name, (bool,), default, "true or false"))

    def choice(self, name: str, options: tuple[str, ...], default: Any = None) -> Any:
        value = self.text(name, default)
        if value not in options:
            raise SpecError(self.path, self.key(name), f"{value!r} is not one of {list(options)}")
        return value

    def str_list(self, name: str, default: list[str]) -> list[Any]:
        value: list[Any] = self._get(name, (list,), default, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise SpecError(self.path, self.key(name), "must be a list of strings")
        return value

    def table(self, name: str, required: bool = True) -> Reader:
        if name not in self.raw:
            if required:
                raise SpecError(self.path, self.key(name), "is required")
            return Reader({}, self.path, self.key(name))
        return Reader(self.raw[name], self.path, self.key(name))

    def array(self, name: str) -> list[Reader]:
        value = self._get(name, (list,), REQUIRED, "an array of tables")
        return [Reader(v, self.path, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]
