"""The house rules of the code's structure (docs/architecture.md), checked on the source.

- commands are thin: nothing under `llmkube/commands/` imports the rules;
- no module reaches into another module's private (`_name`) names;
- module-level imports inside the package form no cycle;
- no function in `llmkube/commands/`, `llmkube/pipeline.py` or `llmkube/runs.py` is over cyclomatic complexity 20
  (radon's measure);
- `llmkube/kubectl.py` is the only module that starts a process (and `llmkube/parallel.py` its Python workers).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from radon.complexity import cc_visit

from tests.support.paths import REPO

PACKAGE = REPO / "llmkube"
MAX_COMPLEXITY = 20


def modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = modules()


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports(module: str, node: ast.AST) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """(statement, imported module, imported names) for every import under `node`."""
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                yield stmt, alias.name, []
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                package = module.split(".")[: len(module.split(".")) - stmt.level + (1 if MODULES[module].name == "__init__.py" else 0)]
                base = ".".join([*package, *([base] if base else [])])
            yield stmt, base, [a.name for a in stmt.names]


def test_commands_do_not_import_the_rules():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("llmkube.commands"):
            for stmt, target, names in imports(name, tree(path)):
                full = [target, *(f"{target}.{n}" for n in names)]
                if any(t == "llmkube.check.rules" or t.startswith("llmkube.check.rules.") for t in full):
                    offenders.append(f"{path.relative_to(REPO)}:{stmt.lineno} imports {target}")
    assert offenders == []


def private_names_defined_in(module_tree: ast.Module) -> set[str]:
    """`_names` a module defines itself: functions, classes, class attributes, `self._x = …`."""
    names = set()
    for node in ast.walk(module_tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
    return {n for n in names if n.startswith("_")}


#: Compiled accelerators (private C modules) and the one module each belongs to, which alone imports it.
ACCELERATORS = {"llmkube._marked": "llmkube.fastyaml"}


def test_no_module_reaches_into_another_modules_private_names():
    offenders = []
    for name, path in MODULES.items():
        module_tree = tree(path)
        for stmt, target, names in imports(name, module_tree):
            if target.startswith("llmkube"):
                offenders += [
                    f"{path.relative_to(REPO)}:{stmt.lineno} imports {target}.{n}"
                    for n in names
                    if _private(n) and ACCELERATORS.get(f"{target}.{n}") != name
                ]
        own = private_names_defined_in(module_tree)
        for node in ast.walk(module_tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} uses {ast.unparse(node)}")
    assert offenders == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def load_time_statements(module_tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements that run when the module is imported: not function bodies (deliberate lazy
    loads) and not `if TYPE_CHECKING:` blocks."""
    todo: list[ast.stmt] = list(module_tree.body)
    while todo:
        stmt = todo.pop()
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        for field in ("body", "orelse", "finalbody", "handlers"):
            todo.extend(getattr(stmt, field, []) or [])


def test_module_level_imports_form_no_cycle():
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps = set()
        for stmt in load_time_statements(tree(path)):
            for _, target, names in imports(name, stmt):
                for candidate in (target, *(f"{target}.{n}" for n in names)):
                    if candidate in MODULES and candidate != name:
                        deps.add(candidate)
        graph[name] = deps

    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" → ".join([*stack[stack.index(dep):], node, dep]) if dep in stack else f"{node} → {dep}")
            elif dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize(
    "path",
    [p for n, p in MODULES.items() if n.startswith("llmkube.commands") or n in ("llmkube.pipeline", "llmkube.runs")],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_commands_and_pipeline_stay_simple(path: Path):
    # radon's count (every branch, boolean operator and comprehension adds one)
    blocks = cc_visit(path.read_text(encoding="utf-8"))
    complex_ = sorted(f"{b.fullname} ({b.complexity})" for b in blocks if b.complexity > MAX_COMPLEXITY)
    assert complex_ == []


def test_only_the_kubectl_module_starts_processes():
    offenders = []
    for name, path in MODULES.items():
        if name == "llmkube.kubectl":
            continue
        for stmt, target, names in imports(name, tree(path)):
            if target == "subprocess" or (target == "os" and {"system", "popen"} & set(names)):
                offenders.append(f"{path.relative_to(REPO)}:{stmt.lineno}")
            # validate's forked workers (Python, running llmkube's own checks) start in llmkube.parallel only
            if name != "llmkube.parallel" and target.split(".")[0] in ("multiprocessing", "concurrent"):
                offenders.append(f"{path.relative_to(REPO)}:{stmt.lineno}")
    assert offenders == []
