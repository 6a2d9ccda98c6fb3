"""A kit's oracle: the reference's answers, recorded once and replayed on the student's laptop.

``RecordingOracle`` stands between the checks and the live reference while a kit is built: it
answers as the reference does and writes down every question and answer (``Entry``). It is not
``live``, so the checks ask it exactly what they will ask the kit: only questions about inputs
drawn from their seeds, never about values a student's code made (``grader.checks.oracle``).
``TableOracle`` answers from what was written down; a question nobody recorded raises
``NotInKit``, except for mistakes and valid variants, which then have none (a failure is still a
failure, only not named).

Besides the answer, each entry keeps what the question changed: the dicts it was passed (the
reference writes running statistics into ``bn_param`` and optimizer state into ``config``), the
net's ``bn_params``, and the global numpy generator (a constructor draws the weights from it, so
that the draws after it see the stream the reference left). A net (``model``) is replayed by a
``TableModel`` whose ``loss`` is looked up by the net's parameters, its ``bn_params`` and the
inputs, so that a check may set parameters as it likes.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks.oracle import Alternatives, Candidates, Oracle
from grader.errors import GraderError, NotInKit
from grader.kit.answers import Arrays, decode, encode, same, signature

__all__ = ["ANSWERS", "ARRAYS", "Entry", "NotInKit", "RecordingOracle", "TableOracle"]

ANSWERS = "answers.json"
ARRAYS = "arrays.npz"
_FORMAT = "nngrader-kit-answers/1"


@dataclass
class Entry:
    """One question (``kind`` ``call``/``model``/``loss``/``mistakes``/``accepted``, ``name``,
    its arguments) and what the reference answered and changed."""

    kind: str
    name: str
    args: Any
    answer: Any
    changed: Any
    """The arguments after the call (dicts and lists of dicts changed in place, else None)."""
    rng: tuple[str, Any]
    """(digest of the generator's state before, its state after if the call moved it, else
    None)."""


def _rng_digest() -> str:
    _, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    text = f"{pos},{has_gauss},{gauss!r}".encode()
    return hashlib.sha256(np.asarray(keys).tobytes() + text).hexdigest()[:24]


def _rng_state() -> Any:
    return list(np.random.get_state(legacy=True))


def _changes(args: tuple[Any, ...]) -> Any:
    """What a caller sees changed: its dicts and lists (of dicts), positionally."""
    return [a if isinstance(a, (dict, list)) else None for a in args]


def _apply(args: tuple[Any, ...], changed: Any) -> None:
    for arg, after in zip(args, changed, strict=True):
        if isinstance(arg, dict) and isinstance(after, dict):
            arg.clear()
            arg.update(after)
        elif isinstance(arg, list) and isinstance(after, list):
            for i, item in enumerate(after):
                if i < len(arg) and isinstance(arg[i], dict) and isinstance(item, dict):
                    arg[i].clear()
                    arg[i].update(item)


class _Recorded:
    """The live reference's answer to one question, written down with its effects."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries

    def ask(self, kind: str, name: str, args: Any, compute: Any, plain: bool = True) -> Any:
        """``compute()``'s answer; recorded as is when ``plain``, else (a net) left for the
        caller to record."""
        before, asked = _rng_digest(), _snapshot(args)
        answer = compute()
        moved = None if _rng_digest() == before else _rng_state()
        changed = _snapshot(_changes(args)) if isinstance(args, tuple) else None
        recorded = _snapshot(answer) if plain else None
        self.entries.append(Entry(kind, name, asked, recorded, changed, (before, moved)))
        return answer


def _snapshot(value: Any) -> Any:
    """A deep copy of plain data (arrays copied), so later changes do not reach the record."""
    arrays: Arrays = {}
    return decode(encode(value, arrays), arrays)


class RecordingOracle:
    """Answers as ``live`` does and records every question (for building a kit)."""

    live = False

    def __init__(self, live: Oracle) -> None:
        self._live = live
        self.entries: list[Entry] = []
        self._recorded = _Recorded(self.entries)

    def call(self, name: str, *args: Any) -> Any:
        return self._recorded.ask("call", name, args, lambda: self._live.call(name, *args))

    def mistakes(self, name: str, *args: Any) -> Candidates:
        compute = lambda: self._live.mistakes(name, *args)  # noqa: E731
        return self._recorded.ask("mistakes", name, args, compute)  # type: ignore[no-any-return]

    def accepted(self, name: str, *args: Any) -> Alternatives:
        compute = lambda: self._live.accepted(name, *args)  # noqa: E731
        return self._recorded.ask("accepted", name, args, compute)  # type: ignore[no-any-return]

    def model(self, name: str, **kwargs: Any) -> Any:
        compute = lambda: self._live.model(name, **kwargs)  # noqa: E731
        net = self._recorded.ask("model", name, kwargs, compute, plain=False)
        self.entries[-1].answer = _snapshot(_state(net))
        return _RecordingModel(net, name, kwargs, self._recorded)

    def save(self, folder: Path) -> None:
        """Write the entries as ``ANSWERS`` (JSON) and ``ARRAYS`` (npz) into ``folder``."""
        arrays: Arrays = {}
        rows = [
            {
                "kind": e.kind,
                "name": e.name,
                "args": encode(e.args, arrays),
                "answer": encode(e.answer, arrays),
                "changed": encode(e.changed, arrays),
                "rng": encode(list(e.rng), arrays),
            }
            for e in self.entries
        ]
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": _FORMAT, "entries": rows}, separators=(",", ":"))
        (folder / ANSWERS).write_text(text, encoding="utf-8")
        np.savez_compressed(folder / ARRAYS, **arrays)  # type: ignore[arg-type]


def _state(net: Any) -> dict[str, Any]:
    """What a check reads of a net: its parameters and, with normalization, its ``bn_params``."""
    state: dict[str, Any] = {"params": net.params}
    if hasattr(net, "bn_params"):
        state["bn_params"] = net.bn_params
    return state


class _RecordingModel:
    """The live net, each ``loss`` call recorded with the state it was made in."""

    def __init__(self, net: Any, name: str, kwargs: dict[str, Any], recorded: _Recorded) -> None:
        self._net, self._name, self._kwargs, self._recorded = net, name, kwargs, recorded

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self._net.params  # type: ignore[no-any-return]

    @params.setter
    def params(self, value: dict[str, np.ndarray]) -> None:
        self._net.params = value

    @property
    def bn_params(self) -> Any:
        return self._net.bn_params

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        args = (self._name, self._kwargs, _state(self._net), X, y)
        answer = self._recorded.ask("loss", self._name, args, lambda: self._net.loss(X, y))
        self._recorded.entries[-1].changed = _snapshot(_state(self._net))
        return answer


class TableOracle:
    """Answers from a kit's recorded entries (``folder`` holds ``ANSWERS`` and ``ARRAYS``)."""

    live = False

    def __init__(self, folder: Path) -> None:
        try:
            document = json.loads((folder / ANSWERS).read_text(encoding="utf-8"))
            with np.load(folder / ARRAYS, allow_pickle=False) as stored:
                arrays: Arrays = {k: stored[k] for k in stored.files}
        except (OSError, ValueError) as exc:
            raise GraderError(
                f"the kit's recorded answers in {folder} are unreadable: {exc}"
            ) from exc
        if document.get("format") != _FORMAT:
            raise GraderError(f"{folder / ANSWERS}: not {_FORMAT}")
        self._by_question: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
        for row in document["entries"]:
            entry = Entry(
                row["kind"],
                row["name"],
                decode(row["args"], arrays),
                decode(row["answer"], arrays),
                decode(row["changed"], arrays),
                tuple(decode(row["rng"], arrays)),
            )
            self._by_question[entry.kind, entry.name, signature(entry.args)].append(entry)

    def find(self, kind: str, name: str, args: Any) -> Entry | None:
        """The entry recorded for this question, or None."""
        for entry in self._by_question.get((kind, name, signature(args)), []):
            if same(args, entry.args):
                return entry
        return None

    def _answer(self, kind: str, name: str, args: tuple[Any, ...]) -> Any:
        entry = self.find(kind, name, args)
        if entry is None:
            raise NotInKit(
                f"the kit holds no expected values of {name} for these inputs (they depend on "
                "your code's earlier answers); your instructor's grader checks this"
            )
        _replay(entry, args)
        return _snapshot(entry.answer)

    def call(self, name: str, *args: Any) -> Any:
        return self._answer("call", name, args)

    def mistakes(self, name: str, *args: Any) -> Candidates:
        entry = self.find("mistakes", name, args)
        return [] if entry is None else _snapshot(entry.answer)

    def accepted(self, name: str, *args: Any) -> Alternatives:
        entry = self.find("accepted", name, args)
        return [] if entry is None else _snapshot(entry.answer)

    def model(self, name: str, **kwargs: Any) -> Any:
        digest = _rng_digest()
        built = self._by_question.get(("model", name, signature(kwargs)), [])
        found = [e for e in built if same(kwargs, e.args)]
        # The one built from this point of the generator's stream; else (a net whose parameters
        # the check sets anyway, drawn where the stream had got to by the student's path) any.
        entry = next((e for e in found if e.rng[0] == digest), found[0] if found else None)
        if entry is None:
            raise NotInKit(f"the kit holds no reference {name} built with {sorted(kwargs)}")
        _replay(entry, ())
        state = _snapshot(entry.answer)
        return TableModel(self, name, kwargs, state["params"], state.get("bn_params"))


def _replay(entry: Entry, args: tuple[Any, ...]) -> None:
    """Make the effects the recorded call had: changed dicts, and the generator moved on."""
    if entry.changed is not None and entry.kind != "loss":
        _apply(args, entry.changed)
    before, after = entry.rng
    if after is not None and before == _rng_digest():
        np.random.set_state(tuple(after))


class TableModel:
    """A recorded reference net: parameters a check may change, ``loss`` looked up."""

    def __init__(
        self,
        oracle: TableOracle,
        name: str,
        kwargs: dict[str, Any],
        params: dict[str, np.ndarray],
        bn_params: list[dict[str, Any]] | None,
    ) -> None:
        self._oracle, self._name, self._kwargs = oracle, name, kwargs
        self.params = params
        if bn_params is not None:
            self.bn_params = bn_params

    def _state(self) -> dict[str, Any]:
        return _state(self)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        args = (self._name, self._kwargs, self._state(), X, y)
        entry = self._oracle.find("loss", self._name, args)
        if entry is None:
            raise NotInKit(
                f"the kit holds no reference {self._name} loss for these parameters and inputs "
                "(they depend on your code's earlier answers); your instructor's grader checks "
                "this"
            )
        _replay(entry, ())
        if "bn_params" in entry.changed:
            self.bn_params = _snapshot(entry.changed["bn_params"])
        return _snapshot(entry.answer)
