"""The house rules of ``grader/``, checked: no import cycle, small modules, one catalogue, no
solution module reached from anywhere but the oracle, and given modules free of solutions."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.checks.catalog import KINDS, SUBJECT_MODULES
from grader.checks.registry import IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
GRADER = ROOT / "grader"
MAX_LINES = 400
SOLUTIONS = ("reference.layers", "reference.layer_utils", "reference.optim", "reference.fc_net")
ORACLE_SIDE = {"grader.checks.oracle", "grader.checks.mistakes"}
"""The only modules that may import the reference's solutions (the oracle and the known-mistake
variants it evaluates, a package: its modules too)."""


def oracle_side(name: str) -> bool:
    return name in ORACLE_SIDE or name.startswith("grader.checks.mistakes.")


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every product module, the child's included."""
    for path in sorted(GRADER.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def imports(path: Path, name: str) -> set[str]:
    """Modules ``path`` imports (absolute dotted names), at any depth of the file."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    names = dict(modules())
    return {
        name: {m for m in imports(path, name) if m in names and m != name}
        for name, path in names.items()
    }


def test_no_import_cycle_among_grader_modules() -> None:
    """Including imports inside functions: a lazy import hides a cycle, it does not remove it."""
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


@pytest.mark.parametrize(("name", "path"), list(modules()), ids=[n for n, _ in modules()])
def test_no_module_is_over_the_size_limit(name: str, path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_catalogue_and_the_implementations_agree() -> None:
    assert set(KINDS) == set(IMPLEMENTATIONS)
    for kind, info in KINDS.items():
        assert set(info.subjects) == set(IMPLEMENTATIONS[kind]), kind


def test_every_subject_module_is_a_student_module_name() -> None:
    assert set(SUBJECT_MODULES.values()) <= {"layers", "layer_utils", "optim", "fc_net"}


def test_spec_parsing_imports_no_check_implementation() -> None:
    """The catalogue is pure data: parsing a spec must not pull in the checks (or the reference)."""
    code = (
        "import sys; from grader.spec import load_spec; import assignments;"
        "load_spec(assignments.spec_dir() / 'cs231n-2021.toml');"
        "bad = sorted(m for m in sys.modules if m.startswith(('grader.checks.', 'reference'))"
        " and m != 'grader.checks.catalog'); print(','.join(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(
    ("name", "path"),
    [(n, p) for n, p in modules() if not oracle_side(n)],
    ids=[n for n, _ in modules() if not oracle_side(n)],
)
def test_only_the_oracle_reaches_the_reference_solutions(name: str, path: Path) -> None:
    reached = {m for m in imports(path, name) for s in SOLUTIONS if m == s or m.startswith(s + ".")}
    assert not reached, f"{name} imports {sorted(reached)}"


@pytest.mark.parametrize("given", ["solver", "gradient_check", "data"])
def test_given_modules_import_without_the_solution_modules(given: str) -> None:
    """The course's given modules (Solver, gradient check, data loading) are not solutions: they
    must import with every solution module made unimportable."""
    block = ";".join(f"sys.modules[{s!r}] = None" for s in SOLUTIONS)
    code = f"import sys; {block}; import reference.{given}"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_docs_table_of_limits_is_generated_from_the_limits() -> None:
    from grader.sandbox.limits import docs_table

    assert docs_table() in (ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
