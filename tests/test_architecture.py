"""The import graph keeps the architecture: no circle of imports, and each layer imports only what lies below it.

Read from the source with ``ast`` (imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import
is still a dependency). See docs/architecture.md for the layers.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP = ("cli", "core", "crawlers", "pipelines", "search", "scheduler")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for top in TOP:
        base = REPO / top
        paths = [base.with_suffix(".py")] if base.with_suffix(".py").exists() else sorted(base.rglob("*.py"))
        for path in paths:
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (``a.b.c`` may be a module or a name inside ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle() -> None:
    assert _cycles() == []


def _importers_of(prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    hits: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        for t in targets:
            if any(t == p or t.startswith(p + ".") for p in prefixes):
                hits[module].add(t)
    return hits


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# (importers, what they must not import, why)
RULES = [
    (("core",), ("cli", "crawlers", "pipelines", "search", "scheduler"), "the core imports nothing of the project"),
    (("pipelines",), ("cli", "crawlers", "scheduler", "search.web", "search.alerts", "search.backends.embedded",
                      "search.backends.elastic"), "pipelines reach the store only through its protocol"),
    (("search",), ("cli", "scheduler"), "search is below the entry points"),
    (("crawlers",), ("cli", "scheduler", "search.web", "search.backends.embedded", "search.backends.elastic"),
     "crawlers reach the store only through its protocol"),
    (("scheduler",), ("cli",), "only the CLI is above the scheduler"),
]


@pytest.mark.parametrize(("importers", "forbidden", "why"), RULES, ids=[r[2] for r in RULES])
def test_layers(importers: tuple[str, ...], forbidden: tuple[str, ...], why: str) -> None:
    bad = {
        m: sorted(t)
        for m, t in _importers_of(forbidden).items()
        if _within(m, importers) and not (m == "search.backends" and forbidden)  # the factory picks a backend
    }
    assert bad == {}, why


def test_only_the_cli_parses_arguments_and_prints() -> None:
    """argparse is imported only under cli/; print() is called only under cli/ (stages return values)."""
    offenders = []
    for module, path in MODULES.items():
        if module == "cli" or module.startswith("cli."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if mod == "argparse":
                    offenders.append(f"{module}: imports argparse")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{module}:{node.lineno}: print()")
    assert offenders == []


def test_the_checks_see_the_project() -> None:
    """The graph is read from the real tree (a broken walk would make every check above pass)."""
    assert {"core.settings", "cli", "scheduler", "pipelines.store", "search.backends.base"} <= set(MODULES)
    assert "core.errors" in GRAPH["core.settings"] or "core.errors" in set().union(*GRAPH.values())
    assert "search.backends.base" in GRAPH["pipelines.store"]
