"""The house rules of the layout (architecture.md), read off the source with ``ast``.

- only ``crm_ferry.cli`` imports click and rich, and only ``crm_ferry.review`` (the review
  page) imports the web stack (Starlette, uvicorn);
- ``crm_ferry.transform`` does no I/O (imports no file, network, database or client module;
  a type-only import of a client type is no I/O);
- ``crm_ferry.dataverse`` (the client) knows nothing of mappings, loads or reports, and
  neither does ``crm_ferry.sharepoint`` (the Graph client; it may take the credential from
  ``crm_ferry.dataverse.auth``);
- the emulator and the clients share no code: neither imports the other;
- the stage packages know nothing of settings files, the verbs or the CLI;
- no import cycle between packages (type-only imports count: they are dependencies too);
- no function-local import of crm-ferry's own modules (the way a cycle is usually hidden),
  and of other modules only where the import is slow and rarely needed (listed below);
- only the journal package (and the emulator's store) speak SQL.

Each rule is a function over the import graph of ``src/crm_ferry``, so a test can also
show that it fails on a deliberate violation.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "crm_ferry"

STAGES = (
    "sources",
    "mapping",
    "transform",
    "provision",
    "dataverse",
    "journal",
    "load",
    "reconcile",
    "references",
    "snapshot",
    "emulator",
    "sharepoint",
)
"""The packages that hold the mechanisms: no settings files, no verbs, no CLI."""

IO_MODULES = frozenset(
    {
        "asyncio",
        "concurrent.futures",
        "glob",
        "http.client",
        "http.server",
        "httpx",
        "io",
        "keyring",
        "msal",
        "os",
        "pathlib",
        "pickle",
        "shutil",
        "socket",
        "sqlite3",
        "subprocess",
        "tempfile",
        "threading",
        "urllib.request",
        "zipfile",
    }
)
"""Modules through which code reads or writes files, networks, databases or processes."""

IO_PACKAGES = (
    "dataverse",
    "sharepoint",
    "journal",
    "load",
    "emulator",
    "commands",
    "cli",
    "review",
    "settings",
)
"""crm-ferry's own modules that do I/O (a client, the journal, the emulator, the verbs)."""

LAZY_IMPORTS = {
    "msal": "about 0.25 s to import; only needed when signing in to a real tenant",
    "keyring": "about 0.2 s to import; only asked when no secret is in the environment",
    "psycopg": "about 0.2 s to import; only needed for a journal on PostgreSQL",
    "psycopg_pool": "imports psycopg; only needed for a journal on PostgreSQL",
}
"""Function-local imports allowed, with the reason: a slow import a run rarely needs."""

SQL_SPEAKERS = ("crm_ferry.journal", "crm_ferry.emulator.store", "crm_ferry.emulator.graph.store")
"""The only modules that import sqlite3 (or psycopg, the journal on PostgreSQL)."""


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    """The importing module, e.g. ``crm_ferry.load.engine``."""
    target: str
    """What it imports, resolved, e.g. ``crm_ferry.journal`` or ``httpx``."""
    line: int
    local: bool
    """Inside a function (not at module level)."""
    type_only: bool
    """Under ``if TYPE_CHECKING:``."""

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(module: str, tree: ast.Module, *, package: bool) -> list[Import]:
    out: list[Import] = []

    def visit(node: ast.AST, local: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                out.extend(
                    Import(module, alias.name, child.lineno, local, type_only)
                    for alias in child.names
                )
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".")
                    keep = len(parts) - child.level + (1 if package else 0)
                    base = ".".join([*parts[:keep], *([base] if base else [])])
                for alias in child.names:
                    # `from crm_ferry import commands` imports the module crm_ferry.commands
                    name = f"{base}.{alias.name}"
                    out.append(Import(module, name, child.lineno, local, type_only))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), local, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), local, type_only)
            else:
                visit(child, local, type_only)

    visit(tree, False, False)
    return out


def read_graph(src: Path = SRC) -> dict[str, list[Import]]:
    """Every module of the package and the imports it makes."""
    graph: dict[str, list[Import]] = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        name = _module_name(path, src)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = _imports_of(name, tree, package=path.name == "__init__.py")
    return graph


def _top(name: str) -> str:
    return name.split(".")[0]


def unit(name: str) -> str | None:
    """The package (or top-level module) a crm-ferry module belongs to: ``load``,
    ``settings``…; None for the root package and for modules that are not crm-ferry's."""
    parts = name.split(".")
    if parts[0] != ROOT or len(parts) < 2:
        return None
    return parts[1]


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _own(units: Iterable[str]) -> tuple[str, ...]:
    return tuple(f"{ROOT}.{u}" for u in units)


# ---------------------------------------------------------------------------
# The rules: each returns the imports that break it


def ui_outside_cli(graph: Mapping[str, list[Import]]) -> list[Import]:
    return [
        i
        for m, imports in graph.items()
        if not _within(m, _own(["cli"]))
        for i in imports
        if _top(i.target) in ("click", "rich")
    ]


def web_outside_review(graph: Mapping[str, list[Import]]) -> list[Import]:
    return [
        i
        for m, imports in graph.items()
        if not _within(m, _own(["review"]))
        for i in imports
        if _top(i.target) in ("starlette", "uvicorn")
    ]


def io_in_transform(graph: Mapping[str, list[Import]]) -> list[Import]:
    """Imports that run (a type-only import does no I/O) of an I/O module."""
    return [
        i
        for m, imports in graph.items()
        if _within(m, _own(["transform"]))
        for i in imports
        if not i.type_only and _within(i.target, [*IO_MODULES, *_own(IO_PACKAGES)])
    ]


def client_knows_too_much(graph: Mapping[str, list[Import]]) -> list[Import]:
    allowed = _own(["dataverse", "errors", "progress"])
    return [
        i
        for m, imports in graph.items()
        if _within(m, _own(["dataverse"]))
        for i in imports
        if _top(i.target) == ROOT and i.target != ROOT and not _within(i.target, allowed)
    ]


def sharepoint_knows_too_much(graph: Mapping[str, list[Import]]) -> list[Import]:
    allowed = (*_own(["sharepoint", "errors", "progress", "docnames"]), f"{ROOT}.dataverse.auth")
    return [
        i
        for m, imports in graph.items()
        if _within(m, _own(["sharepoint"]))
        for i in imports
        if _top(i.target) == ROOT and i.target != ROOT and not _within(i.target, allowed)
    ]


def emulator_and_client_share(graph: Mapping[str, list[Import]]) -> list[Import]:
    pairs = (
        ("emulator", "dataverse"),
        ("dataverse", "emulator"),
        ("emulator", "sharepoint"),
        ("sharepoint", "emulator"),
    )
    return [
        i
        for a, b in pairs
        for m, imports in graph.items()
        if _within(m, _own([a]))
        for i in imports
        if _within(i.target, _own([b]))
    ]


def stages_know_settings(graph: Mapping[str, list[Import]]) -> list[Import]:
    return [
        i
        for m, imports in graph.items()
        if _within(m, _own(STAGES))
        for i in imports
        if _within(i.target, _own(["settings", "commands", "cli"]))
    ]


def package_cycles(graph: Mapping[str, list[Import]]) -> list[list[str]]:
    """Cycles between packages (strongly connected components of the unit graph)."""
    edges: dict[str, set[str]] = {}
    for m, imports in graph.items():
        a = unit(m)
        if a is None:
            continue
        edges.setdefault(a, set())
        for i in imports:
            b = unit(i.target)
            if b is not None and b != a:
                edges[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


def hidden_imports(graph: Mapping[str, list[Import]]) -> list[Import]:
    return [
        i
        for imports in graph.values()
        for i in imports
        if i.local and _top(i.target) not in LAZY_IMPORTS
    ]


def sql_outside_journal(graph: Mapping[str, list[Import]]) -> list[Import]:
    return [
        i
        for m, imports in graph.items()
        if not _within(m, SQL_SPEAKERS)
        for i in imports
        if _top(i.target) in ("sqlite3", "psycopg", "psycopg_pool")
    ]


RULES = {
    "only the CLI imports click and rich": ui_outside_cli,
    "only the review page imports the web stack": web_outside_review,
    "transform does no I/O": io_in_transform,
    "the client knows nothing of mappings, loads or reports": client_knows_too_much,
    "the SharePoint client knows nothing of mappings, loads or reports": sharepoint_knows_too_much,
    "the emulator and the client share no code": emulator_and_client_share,
    "stage packages know nothing of settings files, verbs or the CLI": stages_know_settings,
    "no function-local imports (but the listed slow ones)": hidden_imports,
    "only the journal speaks SQL": sql_outside_journal,
}


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return {name: list(imports) for name, imports in _package_graph().items()}


@pytest.mark.parametrize("rule", list(RULES))
def test_house_rule(graph: dict[str, list[Import]], rule: str) -> None:
    broken = RULES[rule](graph)
    assert not broken, f"{rule}:\n" + "\n".join(f"  {i}" for i in broken)


def test_no_cycles_between_packages(graph: dict[str, list[Import]]) -> None:
    assert package_cycles(graph) == []


def test_every_package_has_a_public_surface() -> None:
    """Every package's ``__init__`` says what it holds and lists what it exports."""
    missing = []
    for init in sorted((SRC / ROOT).rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        has_all = any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for node in tree.body
        )
        if ast.get_docstring(tree) is None or not has_all:
            missing.append(str(init.relative_to(SRC)))
    assert not missing, "packages without a docstring or __all__: " + ", ".join(missing)


# ---------------------------------------------------------------------------
# The rules catch what they are about


@functools.cache
def _package_graph() -> dict[str, list[Import]]:
    """:func:`read_graph` of the package, read once (parsing every module takes seconds)."""
    return read_graph()


def _graph_with(module: str, source: str) -> dict[str, list[Import]]:
    graph = {name: list(imports) for name, imports in _package_graph().items()}
    tree = ast.parse(source)
    graph[module] = [*graph.get(module, []), *_imports_of(module, tree, package=False)]
    return graph


@pytest.mark.parametrize(
    ("rule", "module", "source"),
    [
        ("only the CLI imports click and rich", "crm_ferry.load.engine", "import rich"),
        (
            "only the review page imports the web stack",
            "crm_ferry.commands.mapping",
            "from starlette.requests import Request",
        ),
        ("transform does no I/O", "crm_ferry.transform.ops", "import sqlite3"),
        (
            "transform does no I/O",
            "crm_ferry.transform.ops",
            "from crm_ferry.dataverse.client import DataverseClient",
        ),
        (
            "the client knows nothing of mappings, loads or reports",
            "crm_ferry.dataverse.client",
            "from crm_ferry.mapping.spec import MappingSpec",
        ),
        (
            "the emulator and the client share no code",
            "crm_ferry.emulator.core",
            "from crm_ferry.dataverse import odata",
        ),
        (
            "the SharePoint client knows nothing of mappings, loads or reports",
            "crm_ferry.sharepoint.client",
            "from crm_ferry.load.engine import Engine",
        ),
        (
            "the SharePoint client knows nothing of mappings, loads or reports",
            "crm_ferry.sharepoint.client",
            "from crm_ferry.dataverse.client import DataverseClient",
        ),
        (
            "the emulator and the client share no code",
            "crm_ferry.sharepoint.names",
            "from crm_ferry.emulator.graph.names import name_problem",
        ),
        (
            "the emulator and the client share no code",
            "crm_ferry.emulator.graph.hashes",
            "from crm_ferry.sharepoint import safe_name",
        ),
        (
            "stage packages know nothing of settings files, verbs or the CLI",
            "crm_ferry.reconcile.verify",
            "from crm_ferry.settings import Settings",
        ),
        (
            "no function-local imports (but the listed slow ones)",
            "crm_ferry.load.engine",
            "def f():\n    from crm_ferry.reconcile import diff\n",
        ),
        ("only the journal speaks SQL", "crm_ferry.load.match", "import sqlite3"),
    ],
)
def test_a_rule_fails_on_a_violation(rule: str, module: str, source: str) -> None:
    assert RULES[rule](_graph_with(module, source))


def test_a_cycle_is_found() -> None:
    """dataverse → errors is allowed; errors → dataverse closes a cycle."""
    graph = _graph_with("crm_ferry.errors", "from crm_ferry.dataverse.client import x")
    assert ["dataverse", "errors"] in package_cycles(graph)


def test_a_type_only_import_is_a_dependency() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import rich\n"
    (found,) = ui_outside_cli(_graph_with("crm_ferry.model", source))
    assert found.type_only
