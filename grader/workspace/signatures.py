"""What a student's module defines, read with ``ast`` and never imported.

Detection runs in the grading process, so it may not execute a student's code: it reads the
source. ``read_module`` lists the module's top-level definitions (functions, classes and their
methods, with the parameters of each callable) so that ``grader.workspace.fit`` can ask whether the
functions a course grades exist with signatures the checks can call.

A source that does not parse (Python 2 ``print x`` in a 2016-era file) still names its
``def`` and ``class`` lines: they are found by a line scan, with unknown signatures. A name bound
some other way (an import, an assignment) is recorded as defined with an unknown signature, and a
star import makes every name possibly defined: unknowns never count against a submission.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Definition", "ModuleFacts", "Params", "read_module", "read_source"]

MAX_SOURCE_BYTES = 4 * 1024 * 1024
"""Larger files are not parsed (a module of the courses is ~50 KB); they are read by the scan."""
_DEF_LINE = re.compile(r"^(def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class Params:
    """The parameters of one callable (without ``self`` for a method)."""

    positional: tuple[str, ...]
    """Names that can be passed by position, in order."""
    required: int
    """How many of them have no default."""
    keywords: frozenset[str]
    """Names that can be passed by keyword."""
    required_keywords: frozenset[str] = frozenset()
    """Keyword-only names without a default."""
    var_args: bool = False
    """``*args``: any number of further positional arguments."""
    var_kwargs: bool = False
    """``**kwargs``: any further keyword."""

    def accepts(self, positional: int, keywords: frozenset[str] = frozenset()) -> bool:
        """Whether a call with ``positional`` arguments and these keyword names binds."""
        if positional < self.required or self.required_keywords - keywords:
            return False
        if positional > len(self.positional) and not self.var_args:
            return False
        taken = set(self.positional[:positional])
        return all((k in self.keywords and k not in taken) or self.var_kwargs for k in keywords)

    def describe(self) -> str:
        """``(x, w, b)``-style text for evidence."""
        names = list(self.positional)
        if self.var_args:
            names.append("*args")
        names.extend(sorted(self.keywords - set(self.positional)))
        if self.var_kwargs:
            names.append("**kwargs")
        return f"({', '.join(names)})"


@dataclass(frozen=True)
class Definition:
    """One top-level name of a module."""

    kind: str
    """``function``, ``class`` or ``other`` (bound by an import or an assignment)."""
    params: Params | None = None
    """A function's parameters, or a class's ``__init__``'s; None when unknown."""
    methods: frozenset[str] = frozenset()
    """A class's own methods."""
    inherits: bool = False
    """A class with bases other than ``object``: its methods may come from elsewhere."""
    doc: str = ""
    """The docstring of a function (the starters state conventions there)."""


@dataclass(frozen=True)
class ModuleFacts:
    """What one module defines at top level."""

    names: Mapping[str, Definition] = field(default_factory=dict)
    open_ended: bool = False
    """A star import: a name not listed may still be defined."""
    parsed: bool = True
    """False when the source did not parse (the names come from a line scan)."""

    def lookup(self, name: str) -> Definition | None:
        """The definition of ``name``; ``other`` when a star import may provide it; else None."""
        if name in self.names:
            return self.names[name]
        return Definition("other") if self.open_ended else None


def _params(args: ast.arguments, *, method: bool) -> Params:
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    required = len(positional) - len(args.defaults)
    if method and positional:
        positional, required = positional[1:], max(required - 1, 0)
    pairs = zip(args.kwonlyargs, args.kw_defaults, strict=True)
    kwonly_required = {a.arg for a, default in pairs if default is None}
    keywords = {a.arg for a in args.args} | {a.arg for a in args.kwonlyargs}
    if method and args.args and not args.posonlyargs:
        keywords.discard(args.args[0].arg)
    return Params(
        positional=tuple(positional),
        required=max(required, 0),
        keywords=frozenset(keywords),
        required_keywords=frozenset(kwonly_required),
        var_args=args.vararg is not None,
        var_kwargs=args.kwarg is not None,
    )


def _class(node: ast.ClassDef) -> Definition:
    methods = {
        n.name: n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    init = methods.get("__init__")
    bases = [b for b in node.bases if not (isinstance(b, ast.Name) and b.id == "object")]
    return Definition(
        "class",
        params=_params(init.args, method=True) if init else None,
        methods=frozenset(methods),
        inherits=bool(bases),
    )


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements at module level, including those inside top-level ``if``/``try`` blocks."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _top_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            yield from _top_level(node.body + handlers + node.orelse + node.finalbody)


def _bound_names(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0]
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    yield sub.id


def read_source(text: str) -> ModuleFacts:
    """The top-level definitions of a module's source text."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _scan(text)
    names: dict[str, Definition] = {}
    open_ended = False
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = Definition(
                "function", _params(node.args, method=False), doc=ast.get_docstring(node) or ""
            )
        elif isinstance(node, ast.ClassDef):
            names[node.name] = _class(node)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            open_ended = True
        else:
            for name in _bound_names(node):
                names.setdefault(name, Definition("other"))
    return ModuleFacts(names, open_ended)


def _scan(text: str) -> ModuleFacts:
    """Names of ``def``/``class`` lines at column 0, for a source that does not parse."""
    names = {m.group(2): Definition("other") for m in _DEF_LINE.finditer(text)}
    return ModuleFacts(names, open_ended="import *" in text, parsed=False)


def read_module(path: Path) -> ModuleFacts:
    """``read_source`` of a file (a huge or unreadable file yields a line scan or nothing)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ModuleFacts(parsed=False, open_ended=True)
    text = data.decode("utf-8", errors="replace")
    return read_source(text) if len(data) <= MAX_SOURCE_BYTES else _scan(text)
