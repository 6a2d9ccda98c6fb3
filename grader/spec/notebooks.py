"""A spec's ``[notebooks]`` section: what the grader reads from the submission's notebooks.

Nothing here is scored. The section names each notebook's part, the markdown markers around the
inline questions (listed for manual grading with the points they reserve), the printed numbers
worth reporting (regular expressions over the saved outputs' text), the size limit, and, for
CS182, the ``submission_logs/`` histories and their expected lengths. Documented for instructors
in ``assignments/README.md``; read by ``grader.notebooks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from grader.errors import SpecError
from grader.spec.reader import Reader

__all__ = [
    "CELL_ACTIONS",
    "NUMBER",
    "CellRule",
    "CurveSettings",
    "LogsSpec",
    "NotebookSpec",
    "PrintedNumber",
    "parse_notebooks",
]

NUMBER = r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
"""What ``{number}`` stands for in a printed-number pattern: one decimal number, captured."""
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\{name\}[a-z0-9_]*)?")


@dataclass(frozen=True)
class PrintedNumber:
    """A number a notebook prints, found by a pattern over the saved outputs' text."""

    name: str
    """Its name in the report (``val_accuracy``); ``{name}`` in it is replaced by the pattern's
    ``name`` group (``rel_error_{name}`` with ``W1`` printed: ``rel_error_W1``)."""
    pattern: re.Pattern[str]
    """Has a ``value`` group (the number), and a ``name`` group when ``name`` has ``{name}``."""
    parts: tuple[str, ...] = ()
    """Parts whose notebooks are searched; empty: every notebook."""


@dataclass(frozen=True)
class CurveSettings:
    """Expected lengths of the histories ``Solver.record_histories_as_npz`` saved for one cell."""

    files: str
    """Glob of the ``.npz`` names the cell saves (``dropout_regularization_experiment_p*.npz``)."""
    epochs: int
    """The cell's ``num_epochs``: the CS182 Solver records accuracies at iteration 0 and at each
    epoch's end, so ``train_accs`` and ``val_accs`` hold ``epochs + 1`` values."""
    iterations: int
    """``num_epochs * max(num_train // batch_size, 1)``: the length of ``train_losses``."""


@dataclass(frozen=True)
class CellRule:
    """With ``--execute``, what to do with the cells a pattern (``re.MULTILINE``) matches, beyond
    the built-in Colab rules (``grader.notebooks.neutralize``): ``neutralise`` the line, ``skip``
    the cell (too heavy to run), or ``replace`` the match by ``text`` (less data for a cell)."""

    pattern: str
    action: str = "neutralise"
    text: str = ""
    why: str = ""


CELL_ACTIONS = ("neutralise", "skip", "replace")


@dataclass(frozen=True)
class LogsSpec:
    """CS182's ``submission_logs/``: histories and a self-reported ``results.json``."""

    folder: str = "submission_logs"
    curves: tuple[CurveSettings, ...] = ()
    results: str = "results.json"


@dataclass(frozen=True)
class NotebookSpec:
    """How the notebooks of a course are read (the defaults fit the CS231n family)."""

    parts: Mapping[str, str] = field(default_factory=dict)
    """Notebook file name -> part id (from the parts whose title is a notebook's name, and
    ``[notebooks] parts``)."""
    questions: tuple[str, ...] = ("Inline Question",)
    """A markdown cell holding one of these starts an inline question."""
    answers: tuple[str, ...] = ("Your Answer:", "Answer:")
    """The student's answer follows one of these (in the question's cell or a later one)."""
    placeholders: tuple[str, ...] = ("[FILL THIS IN]", "fill this in", "YOUR ANSWER HERE")
    """Starter text that means the question was not answered."""
    answer_points: float = 0.0
    """Points each inline answer reserves for manual grading (never awarded by nngrader)."""
    printed: tuple[PrintedNumber, ...] = ()
    max_mb: float = 20.0
    """A notebook file larger than this is not read (the report says so)."""
    logs: LogsSpec | None = None
    model: str = "best_model"
    """With ``--execute``: the notebook variable holding the trained net when the cells ran
    (its ``params`` and batchnorm ``bn_params`` are read out of the kernel)."""
    rules: tuple[CellRule, ...] = ()
    """With ``--execute``: the course's own cell rules (``[[notebooks.rules]]``), after the
    built-in Colab ones."""
    data_dir: str = "cs231n/datasets"
    """With ``--execute``: the folder, relative to the notebook's, where the course's loader
    looks for ``cifar-10-batches-py``."""


def _pattern(r: Reader, key: str, text: str) -> re.Pattern[str]:
    if text.count("{number}") != 1:
        raise SpecError(r.path, r.key(key), "the pattern must hold {number} exactly once")
    try:
        pattern = re.compile(text.replace("{number}", NUMBER))
    except re.error as exc:
        raise SpecError(r.path, r.key(key), f"not a regular expression: {exc}") from None
    if ("{name}" in key) != ("name" in pattern.groupindex):
        raise SpecError(
            r.path, r.key(key), "a (?P<name>...) group is needed exactly when the key has {name}"
        )
    return pattern


def _printed(r: Reader, part_ids: set[str]) -> tuple[PrintedNumber, ...]:
    out = []
    for key in r.keys():
        if not _NAME.fullmatch(key):
            raise SpecError(r.path, r.key(key), "names are lower_case words (with one {name})")
        parts: tuple[str, ...] = ()
        if isinstance(r.raw[key], dict):
            entry = r.table(key)
            entry.only("pattern", "parts")
            text, parts = entry.text("pattern"), tuple(entry.str_list("parts", []))
            unknown = sorted(set(parts) - part_ids)
            if unknown:
                raise SpecError(r.path, entry.key("parts"), f"unknown parts {unknown}")
        else:
            text = r.text(key)
        out.append(PrintedNumber(key, _pattern(r, key, text), parts))
    return tuple(out)


def _logs(r: Reader) -> LogsSpec | None:
    if not r.keys():
        return None
    r.only("folder", "results", "curves")
    curves = []
    for c in r.array("curves") if "curves" in r.raw else []:
        c.only("files", "epochs", "iterations")
        epochs, iterations = c.integer("epochs"), c.integer("iterations")
        if epochs < 1 or iterations < 1:
            raise SpecError(c.path, c.prefix, "epochs and iterations must be positive")
        curves.append(CurveSettings(c.text("files"), epochs, iterations))
    folder = r.text("folder", "submission_logs")
    if folder.startswith("/") or ".." in folder.split("/"):
        raise SpecError(r.path, r.key("folder"), "must be a relative folder")
    return LogsSpec(folder, tuple(curves), r.text("results", "results.json"))


class _Part(Protocol):
    """A spec's part (``grader.spec.model.Part``, which imports this module)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...


def parse_notebooks(r: Reader, parts: Iterable[_Part]) -> NotebookSpec:
    """``[notebooks]``; a part whose title is a notebook's file name is that notebook's part
    unless ``[notebooks] parts`` says otherwise."""
    d = NotebookSpec()
    r.only(
        "parts",
        "questions",
        "answers",
        "placeholders",
        "answer_points",
        "printed",
        "max_mb",
        "logs",
        "model",
        "data_dir",
        "rules",
    )
    part_ids = {p.id for p in parts}
    by_name = {p.title: p.id for p in parts if p.title.endswith(".ipynb")}
    table = r.table("parts", required=False)
    for name in table.keys():
        if table.text(name) not in part_ids or not name.endswith(".ipynb"):
            raise SpecError(r.path, table.key(name), "must map a .ipynb name to a declared part")
        by_name[name] = table.text(name)
    points, max_mb = r.number("answer_points", d.answer_points), r.number("max_mb", d.max_mb)
    if points < 0 or max_mb <= 0:
        raise SpecError(r.path, r.prefix, "answer_points must not be negative, max_mb positive")
    return NotebookSpec(
        parts=by_name,
        questions=tuple(r.str_list("questions", list(d.questions))),
        answers=tuple(r.str_list("answers", list(d.answers))),
        placeholders=tuple(r.str_list("placeholders", list(d.placeholders))),
        answer_points=points,
        printed=_printed(r.table("printed", required=False), part_ids),
        max_mb=max_mb,
        logs=_logs(r.table("logs", required=False)),
        model=_identifier(r, "model", d.model),
        data_dir=_relative(r, "data_dir", d.data_dir),
        rules=tuple(_rule(rule) for rule in (r.array("rules") if "rules" in r.raw else [])),
    )


def _rule(r: Reader) -> CellRule:
    r.only("pattern", "action", "text", "why")
    rule = CellRule(r.text("pattern"), r.choice("action", CELL_ACTIONS, "neutralise"),
                    r.text("text", ""), r.text("why", ""))  # fmt: skip
    try:
        re.compile(rule.pattern, re.MULTILINE)
    except re.error as exc:
        raise SpecError(r.path, r.key("pattern"), f"not a regular expression: {exc}") from None
    return rule


def _identifier(r: Reader, key: str, default: str) -> str:
    """A dotted Python name (``best_model``, ``solver.model``): what the kernel evaluates."""
    text: str = r.text(key, default)
    if not all(part.isidentifier() for part in text.split(".")):
        raise SpecError(r.path, r.key(key), "must be a (dotted) Python name")
    return text


def _relative(r: Reader, key: str, default: str) -> str:
    text: str = r.text(key, default)
    if text.startswith("/") or ".." in text.split("/"):
        raise SpecError(r.path, r.key(key), "must be a relative folder")
    return text
