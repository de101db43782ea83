"""The package's import structure: no cycle, and an oracle independent of the losses it checks.

Read from the source (every ``import`` statement, those inside functions
included), since importing ``wce_ref.oracle`` runs the package's
``__init__``, which imports the losses anyway.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wce_ref

PACKAGE = Path(wce_ref.__file__).parent


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is named by its ``__init__``)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source (``from . import x`` names module x)."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
    return (found & known) - {name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_import_scanner_sees_known_edges():
    graph = _graph()
    assert "wce_ref.losses._base" in graph["wce_ref.losses"]  # from ._base import ...
    assert "wce_ref._validation" in graph["wce_ref.losses._ldam_ce"]  # from .. import _validation
    assert "wce_ref.oracle" in graph["wce_ref.losses._family"]  # an import inside a function (the exact forms)


def test_the_oracle_imports_nothing_from_the_losses():
    """The oracle checks the losses: neither it nor anything it imports (lazily or not) reaches them."""
    reached = _reachable(_graph(), "wce_ref.oracle")
    assert not {m for m in reached if m == "wce_ref.losses" or m.startswith("wce_ref.losses.")}, reached


def test_the_package_has_no_import_cycle():
    graph = _graph()
    cyclic = sorted(name for name in graph if name in _reachable(graph, name))
    assert not cyclic, f"modules on an import cycle: {cyclic}"
