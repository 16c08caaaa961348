"""The dependency rules of docs/architecture.md, read off the code: every import of every
module — at the top, inside a function, or under `if TYPE_CHECKING:` — goes down the layers
below, or stays in its own package; and no module imports, through any chain, one that
imports it back.

Layers, from the bottom (a package may import its own modules and any lower layer, never a
sibling of its own layer nor anything above):

    leaves     the top-level helper modules (i18n, diagnostics, words, timetext, …)
    vocab      events, touches, local time, values, limit rules, reasons, shards
    syntax     source text → AST
    compiler   AST → IR
    engine · data · adapters    the engine; files → records and events; the platforms
    plan · runtime · lsp        the dry-run; the store and the daemon; the language server
    cli · testing               the commands; the fake WeCom server for tests
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

LAYERS: list[set[str]] = [
    {"leaves"},
    {"vocab"},
    {"syntax"},
    {"compiler"},
    {"engine", "data", "adapters"},
    {"plan", "runtime", "lsp"},
    {"cli", "testing"},
]
LEAVES = {"__init__", "diagnostics", "eventnames", "extras", "htmlpage", "i18n", "i18n_zh", "i18n_zh_click", "tables",
          "textcells", "textsafe", "timetext", "words"}  # fmt: skip
TOP = {"__main__": "cli"}  # top-level modules that belong to a layer of their own


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package under `package`, by dotted name."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that module `name` imports, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
                break  # `from a.b import c`: module a.b.c if it is one, else a.b
    return out


def unit(module: str) -> str:
    """The package (or 'leaves') a module of `playbook` belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "leaves"
    if len(parts) == 2 and parts[1] in LEAVES:
        return "leaves"
    return TOP.get(parts[1], parts[1])


def layer(unit_name: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit_name in units:
            return i
    raise AssertionError(f"{unit_name} is in no layer: place it in LAYERS (and in docs/architecture.md)")


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a sibling package or of a higher layer."""
    found = []
    for module, targets in sorted(graph.items()):
        mine = unit(module)
        for target in sorted(targets):
            theirs = unit(target)
            if theirs != mine and layer(theirs) >= layer(mine):
                found.append(f"{module} imports {target} ({mine} may not import {theirs})")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def graph_of(package: Path) -> dict[str, set[str]]:
    found = modules(package)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_no_import_goes_up_or_sideways() -> None:
    assert upward(graph_of(ROOT / "playbook")) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert circles(graph_of(ROOT / "playbook")) == []


def test_every_package_has_a_layer() -> None:
    for module in graph_of(ROOT / "playbook"):
        layer(unit(module))


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The checks themselves, on a made-up tree: an upward import in a function, a sibling
    import, and a circle through a type-only import are each found."""
    package = tmp_path / "playbook"
    files = {
        "__init__.py": "",
        "i18n.py": "",
        "vocab/__init__.py": "",
        "vocab/model.py": "from playbook.i18n import t\n",
        "engine/__init__.py": "",
        "engine/core.py": "from playbook.engine import flows\nfrom .flows import Runner\n",
        "engine/flows.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from playbook.engine.core import E\n",
        "data/__init__.py": "",
        "data/files.py": "def read():\n    from playbook.plan.run import run_plan\n",
        "adapters/__init__.py": "",
        "adapters/base.py": "from playbook.data import files\n",
        "plan/__init__.py": "",
        "plan/run.py": "from ..engine.core import Engine\nfrom playbook.vocab.model import Event\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    graph = graph_of(package)
    assert graph["playbook.plan.run"] == {"playbook.engine.core", "playbook.vocab.model"}
    assert graph["playbook.engine.core"] == {"playbook.engine.flows"}
    assert upward(graph) == [
        "playbook.adapters.base imports playbook.data.files (adapters may not import data)",
        "playbook.data.files imports playbook.plan.run (data may not import plan)",
    ]
    assert circles(graph) == [["playbook.engine.core", "playbook.engine.flows"]]
