"""Names in a playbook's syntax trees: where each segment, content, group, … is declared and
where it is used — for go to definition, find references, rename and the outline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playbook.compiler.build import DECLARATION_KINDS
from playbook.syntax import ast as A
from playbook.syntax.node import fields, is_node

# Declarations: AST class -> kind of name it declares.
DECLARES: dict[type, str] = {**DECLARATION_KINDS, A.EventDecl: "event"}
# References: (AST class, field) -> kind of name it refers to.
REFERS: dict[tuple[type, str], str] = {
    (A.InSegment, "segment"): "segment",
    (A.InGroup, "group"): "group",
    (A.EntryEnter, "segment"): "segment",
    (A.EntrySchedule, "segment"): "segment",
    (A.EntryAt, "segment"): "segment",
    (A.Dm, "content"): "content",
    (A.Post, "content"): "content",
    (A.GroupInvite, "content"): "content",
    (A.MomentRule, "content"): "content",
    (A.Invite, "group"): "group",
    (A.EntryOn, "event"): "event",
    (A.ExitOn, "event"): "event",
    (A.Wait, "event"): "event",
    (A.Goal, "event"): "event",
    (A.Sla, "trigger"): "event",
    (A.Sla, "answer"): "event",
}


@dataclass(frozen=True)
class Occurrence:
    kind: str
    name: A.Name
    file: str
    declaration: Any = None  # the declaring node, when this occurrence declares the name


def occurrences(files: list[A.File]) -> Iterator[Occurrence]:
    """Every declared and referenced name, in file order."""
    for f in files:
        for decl in f.declarations:
            kind = DECLARES.get(type(decl))
            if kind is not None:
                yield Occurrence(kind, decl.name, f.path, decl)
            yield from _refs(decl, f.path)


def _refs(node: Any, file: str) -> Iterator[Occurrence]:
    for info in fields(node):
        value = getattr(node, info.name)
        kind = REFERS.get((type(node), info.name))
        if kind is not None and isinstance(value, A.Name):
            yield Occurrence(kind, value, file)
            continue
        if isinstance(value, tuple | list):
            for item in value:
                if is_node(item):
                    yield from _refs(item, file)
        elif is_node(value) and not isinstance(value, A.Span):
            yield from _refs(value, file)


def at(files: list[A.File], file: str, line: int, column: int) -> Occurrence | None:
    """The name under a 1-based LINE and character COLUMN of FILE."""
    for o in occurrences(files):
        s = o.name.span
        if o.file == file and s.line == line and s.column <= column <= s.end_column:
            return o
    return None


def declaration(files: list[A.File], kind: str, name: str) -> Occurrence | None:
    return next((o for o in occurrences(files) if o.declaration is not None and (o.kind, o.name.value) == (kind, name)), None)


def uses(files: list[A.File], kind: str, name: str) -> list[Occurrence]:
    """The declaration (if any) and every reference of KIND NAME."""
    return [o for o in occurrences(files) if (o.kind, o.name.value) == (kind, name)]
