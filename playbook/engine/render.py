"""Rendering content and task text for one touch.

Sandboxed by construction: a template is parsed into literal text and placeholders whose
paths are a contact field, `account.<field>` or `event.<field>` (compiler/templates.py);
rendering looks those up in plain dicts and formats the value. A placeholder without a
value and without a fallback means the touch is not sent — the caller records it as
skipped with the reason — never "您好None" or a literal "{name}".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbook.compiler.templates import Placeholder, parse_template
from playbook.engine.timeutil import LocalTime
from playbook.engine.values import format_value


class MissingValue(Exception):
    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def render(
    template: str,
    contact: Mapping[str, Any] | None,
    account: Mapping[str, Any] | None,
    event: Mapping[str, Any] | None,
    clock: LocalTime,
) -> str:
    """The text with every placeholder filled; raises MissingValue for the first one that
    has neither a value nor a fallback."""
    pieces = parse_template(template)
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return pieces[0]
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = _lookup(piece, contact, account, event)
        if value is None or value == "" or value == frozenset():
            if piece.fallback is None:
                raise MissingValue(piece.path)
            out.append(piece.fallback)
        else:
            out.append(format_value(value, clock))
    return "".join(out)


def _lookup(
    p: Placeholder,
    contact: Mapping[str, Any] | None,
    account: Mapping[str, Any] | None,
    event: Mapping[str, Any] | None,
) -> Any:
    scope = p.scope
    source = contact if scope == "contact" else account if scope == "account" else event
    return None if source is None else source.get(p.field)
