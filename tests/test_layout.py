"""The package's layering, read from the source: the arrows point down only (docs/DESIGN.md, Layers)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "novalgo"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every novalgo module and the novalgo modules it imports, at the top or inside a function."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from novalgo.web import admin`` imports the module novalgo.web.admin.
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            else:
                continue
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_no_import_circle_inside_the_package():
    graph = imports()
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_domain_is_pure():
    for module, targets in imports().items():
        if module.startswith("novalgo.domain"):
            outside = {t for t in targets if not t.startswith("novalgo.domain") and t != "novalgo.errors"}
            assert outside == set(), f"{module} imports {outside}"


def test_adapters_never_import_the_layers_above():
    above = ("novalgo.engine", "novalgo.web", "novalgo.cli")
    for module, targets in imports().items():
        if module.startswith(("novalgo.sheet", "novalgo.broker")):
            assert {t for t in targets if t.startswith(above)} == set(), module


def test_the_engine_never_imports_web_or_cli():
    for module, targets in imports().items():
        if module.startswith("novalgo.engine"):
            assert {t for t in targets if t.startswith(("novalgo.web", "novalgo.cli"))} == set(), module


def test_the_top_level_names_the_roles():
    files = sorted(p.name for p in PACKAGE.glob("*.py"))
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert len(files) <= 8, files
    assert folders == ["broker", "cli", "domain", "engine", "sheet", "web"]
