"""Rendering content and task text for one touch.

Sandboxed by construction: a template is parsed into literal text and placeholders whose
paths are a contact field, `account.<field>` or `event.<field>` (compiler/templates.py);
rendering looks those up in plain dicts and formats the value. A placeholder without a
value and without a fallback means the touch is not sent — the caller records it as
skipped with the reason — never "您好None" or a literal "{name}".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from playbook.compiler.templates import parse_template
from playbook.vocab.localtime import LocalTime
from playbook.vocab.values import format_value


class MissingValue(Exception):
    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


_NOTHING = frozenset()


def render(
    template: str,
    contact: Mapping[str, Any] | None,
    account: Mapping[str, Any] | None,
    event: Mapping[str, Any] | None,
    clock: LocalTime,
) -> str:
    """The text with every placeholder filled; raises MissingValue for the first one that
    has neither a value nor a fallback."""
    if "{" not in template and "}" not in template:
        return template  # nothing to fill (an SLA reminder's text is new each time: not parsed, not cached)
    pieces = parse_template(template)
    if len(pieces) == 1 and pieces[0].__class__ is str:
        return pieces[0]  # type: ignore[return-value]
    out: list[str] = []
    for piece in pieces:
        if piece.__class__ is str:
            out.append(piece)  # type: ignore[arg-type]
            continue
        scope = piece.scope  # type: ignore[union-attr]
        source = contact if scope == "contact" else account if scope == "account" else event
        value = None if source is None else source.get(piece.field)  # type: ignore[union-attr]
        if value.__class__ is str and value:  # the usual value: text, shown as it is
            out.append(value)
        elif value is None or value == "" or value == _NOTHING:
            if piece.fallback is None:  # type: ignore[union-attr]
                raise MissingValue(piece.path)  # type: ignore[union-attr]
            out.append(piece.fallback)  # type: ignore[union-attr]
        else:
            out.append(format_value(value, clock))
    return "".join(out)


def member_renderer(
    template: str, account: Mapping[str, Any] | None, event: Mapping[str, Any] | None, clock: LocalTime
) -> Callable[[Mapping[str, Any] | None], str]:
    """`render` for many contacts with the same account and event (a batch's members). A
    template with one contact placeholder — the usual "{name}，…" — is filled by joining its
    text around the contact's value where that is non-empty text; anything else is
    `render`'s."""
    pieces = parse_template(template)
    holes = [i for i, piece in enumerate(pieces) if piece.__class__ is not str]
    if len(holes) != 1 or pieces[holes[0]].scope != "contact":  # type: ignore[union-attr]
        return lambda contact: render(template, contact, account, event, clock)
    before, after = "".join(pieces[: holes[0]]), "".join(pieces[holes[0] + 1 :])  # type: ignore[arg-type]
    field = pieces[holes[0]].field  # type: ignore[union-attr]

    def fill(contact: Mapping[str, Any] | None) -> str:
        value = None if contact is None else contact.get(field)
        if value.__class__ is str and value:
            return before + value + after  # type: ignore[operator]
        return render(template, contact, account, event, clock)

    return fill
