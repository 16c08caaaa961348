"""The store's parts (runtime/storage/) sit below the `Store` façade (runtime/store.py):
they import the engine, the schema and each other, never the façade nor anything above
the runtime (cli, plan), and the part graph has no circle."""

from __future__ import annotations

import ast
from pathlib import Path

import playbook.runtime.storage as storage

PARTS = Path(storage.__file__).parent
ABOVE = ("playbook.cli", "playbook.plan", "playbook.runtime.store")


def imports_of(path: Path) -> set[str]:
    """The modules a file imports, at any depth of its code (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_parts_import_nothing_above_them() -> None:
    upward = {
        (path.name, name)
        for path in sorted(PARTS.glob("*.py"))
        for name in imports_of(path)
        if any(name == above or name.startswith(above + ".") for above in ABOVE)
    }
    assert upward == set()


def test_parts_import_each_other_without_a_circle() -> None:
    prefix = "playbook.runtime.storage."
    graph = {
        path.stem: {name[len(prefix) :] for name in imports_of(path) if name.startswith(prefix)}
        for path in PARTS.glob("*.py")
    }
    assert graph["database"] == {"fencing"}  # the bottom: every other part builds on it
    done: set[str] = set()

    def visit(part: str, path: tuple[str, ...]) -> None:
        assert part not in path, f"import circle: {' → '.join((*path, part))}"
        if part not in done:
            for needed in graph[part]:
                visit(needed, (*path, part))
            done.add(part)

    for part in graph:
        visit(part, ())
    assert done == set(graph)
