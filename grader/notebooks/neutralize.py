"""What a notebook's cells become before the grader executes them (``prepare``).

Notebooks are written for Colab or a course machine: they mount Google Drive, ``%cd`` into it,
download the data with ``!bash get_datasets.sh`` and ``!pip install`` packages. None of that can
work in a sandbox without network, and none of it matters to what the notebook computes. A
spec's rules (``Rule``) say what to do with such lines, and which cells are too heavy to run or
should see less data:

* ``neutralise``: each matching line becomes ``pass  # nngrader: ...`` (indentation kept, so an
  ``if`` around it stays valid Python);
* ``skip``: a matching cell's code is replaced by a comment saying why;
* ``replace``: ``re.sub(pattern, text)`` on the cell (``num_train = 49000`` -> ``num_train = 500``).

Student-controlled metadata is dropped too: under plain nbclient a ``raises-exception`` tag
tolerates an error and ``skip-execution`` skips a cell, and the kernelspec names the kernel; the
grader decides those (research §B.4). ``DEFAULT_RULES`` are the Colab lines of the CS231n
family, used when a spec declares none.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIONS", "DEFAULT_RULES", "Rule", "prepare"]

ACTIONS = ("neutralise", "skip", "replace")


@dataclass(frozen=True)
class Rule:
    """One spec rule: a regular expression (``re.MULTILINE``) and what to do where it matches."""

    pattern: str
    action: str = "neutralise"
    """``neutralise`` (the line), ``skip`` (the cell) or ``replace`` (the match, by ``text``)."""
    text: str = ""
    """The replacement for ``replace`` (``re.sub`` syntax)."""
    why: str = ""
    """Said in the cell, and in the report (``Colab only``)."""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} is not one of {list(ACTIONS)}")
        re.compile(self.pattern)  # a bad pattern fails where the spec is read


DEFAULT_RULES = (
    Rule(r"^\s*from google\.colab import\b.*$", why="Colab only"),
    Rule(r"^.*\bdrive\.mount\(.*$", why="Colab only"),
    Rule(r"^\s*assert FOLDERNAME is not None.*$", why="Colab only"),
    Rule(r"^\s*%cd\b.*$", why="the notebook's folder is the grader's"),
    Rule(r"^\s*!.*$", why="no shell commands: no network, the data is the grader's"),
    Rule(r"^\s*%(pip|conda)\b.*$", why="no package installs: the course runtime is installed"),
    Rule(r"\A\s*%%(bash|sh|script)\b", "skip", why="a shell cell: no shell commands"),
)


def prepare(notebook: Any, rules: Sequence[Rule] = DEFAULT_RULES) -> tuple[Any, list[str]]:
    """A copy of ``notebook`` ready to execute, and what was changed (for the report).

    Args:
        notebook: An nbformat v4 notebook (``NotebookNode``); left as it is.
        rules: Applied in order to every code cell.

    Returns:
        The copy (outputs cleared, tags and kernelspec dropped, rules applied) and one note per
        cell a rule changed: ``cell 3: neutralised 2 lines (Colab only)``.
    """
    nb = copy.deepcopy(notebook)
    nb.metadata.pop("kernelspec", None)
    notes: list[str] = []
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("tags", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        source, changed = apply_rules(cell.source, rules)
        cell.source = source
        notes.extend(f"cell {index + 1}: {what}" for what in changed)
    return nb, notes


def apply_rules(source: str, rules: Sequence[Rule]) -> tuple[str, list[str]]:
    """``source`` after ``rules``, and what each rule that matched did."""
    changed: list[str] = []
    for rule in rules:
        regex = re.compile(rule.pattern, re.MULTILINE)
        why = f" ({rule.why})" if rule.why else ""
        if rule.action == "skip":
            if regex.search(source):
                return f"# nngrader: cell not run{why}\n", [f"not run{why}"]
            continue
        if rule.action == "replace":
            # Counted by match; a replacement rule usually matches once per line.
            source, count = regex.subn(rule.text, source)
        else:
            source, count = regex.subn(functools.partial(_pass_line, why=rule.why), source)
        if count:
            verb = "replaced" if rule.action == "replace" else "neutralised"
            changed.append(f"{verb} {count} line{'s' if count > 1 else ''}{why}")
    return source, changed


def _pass_line(match: re.Match[str], why: str) -> str:
    """``pass`` at the matched line's indentation, with the original kept in a comment."""
    line = match.group(0)
    indent = line[: len(line) - len(line.lstrip())]
    original = line.strip().replace("\n", " ")
    return f"{indent}pass  # nngrader: {why or 'not run'}: {original}"
