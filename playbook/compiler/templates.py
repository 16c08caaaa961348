"""Placeholders in text: `{name}`, `{account.name}`, `{event.amount}`, `{name|亲}`.

A template is parsed once into literal pieces and placeholders. Only three shapes of
path exist — a contact field, `account.<field>`, `event.<field>` — so rendering can
never reach anything but the data (no attribute access, no evaluation). `{{` and `}}`
are literal braces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from playbook.i18n import t

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_PATH = re.compile(r"^[^\W\d]\w*(?:\.[^\W\d]\w*)?$")
SCOPES = ("account", "event")


class TemplateError(ValueError):
    def __init__(self, message: str, offset: int, hint: str = ""):
        super().__init__(message)
        self.message, self.offset, self.hint = message, offset, hint


@dataclass(frozen=True, slots=True)
class Placeholder:
    path: str
    fallback: str | None
    offset: int  # where the `{` is in the text
    scope: str = ""  # 'contact', 'account' or 'event' (derived from path)
    field: str = ""  # the field within that scope

    def __post_init__(self) -> None:
        head, _, rest = self.path.partition(".")
        object.__setattr__(self, "scope", head if rest else "contact")
        object.__setattr__(self, "field", rest or self.path)


# A parsed template: literal strings and placeholders, in order.
Piece = str | Placeholder


@lru_cache(maxsize=8192)
def parse_template(text: str) -> tuple[Piece, ...]:
    """Literal text and placeholders, in order (cached: a content's text is parsed once,
    however often it is referenced or rendered). Raises TemplateError."""
    pieces: list[Piece] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if m.group(1) is None:
            if token == "{":
                what = t("'{brace}' is never closed", brace="{")
            else:
                what = t("'{brace}' has no opening '{opening}'", brace="}", opening="{")
            raise TemplateError(
                what, m.start(), t("write {open} or {close} for a literal brace", open="{{", close="}}")
            )
        inner = m.group(1)
        path, bar, fallback = inner.partition("|")
        path = path.strip()
        if not _PATH.match(path):
            raise TemplateError(
                t("'{placeholder}' is not a placeholder", placeholder="{" + inner + "}"),
                m.start(),
                t("use {{field}}, {{account.field}}, {{event.field}} or {{field|fallback}}"),
            )
        if "." in path and path.split(".")[0] not in SCOPES:
            raise TemplateError(
                t("'{placeholder}' reaches into '{scope}'", placeholder="{" + inner + "}", scope=path.split(".")[0]),
                m.start(),
                t("only contact fields, account.<field> and event.<field> can be used"),
            )
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append(Placeholder(path, fallback if bar else None, m.start()))
    literal.append(text[pos:])
    tail = "".join(literal)
    if tail:
        pieces.append(tail)
    return tuple(pieces)


def placeholders(text: str) -> list[Placeholder]:
    return [p for p in parse_template(text) if isinstance(p, Placeholder)]
