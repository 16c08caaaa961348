"""What the compiler's stages share: the environment a declaration is lowered in (`Env`,
read only once the names are resolved), what lowering one adds besides its IR
(`Additions`), and `Site`, the file a declaration comes from, passed explicitly to every
function that reports a diagnostic.

resolve.py fills the name tables, lower.py turns declarations into IR (with expressions.py
and steps.py), check.py holds the lints as tables of rules, build.py drives them (and reuses
lowerings for the language server).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from playbook.diagnostics import ERROR, WARNING, Diagnostic
from playbook.i18n import N_
from playbook.syntax import ast as A

# The IR as the compiler emits it: JSON-ready data, keys as in playbook.compiler.ir.
Doc = dict[str, Any]

# Fields every contact has, or that events maintain (LANGUAGE.md §3).
BUILTIN_FIELDS = (
    "id", "name", "account", "tags", "added_at", "orders", "spent", "last_purchase_at", "last_active_at",
    "groups",
)  # fmt: skip


# What each kind of declaration is called in messages (translated where shown).
KIND_WORDS = {
    "segment": N_("segment"),
    "content": N_("content"),
    "journey": N_("journey"),
    "group": N_("group"),
    "moments": N_("Moments calendar"),
    "rotate": N_("rotation"),
    "sla": N_("service level"),
}

# a declaration's AST class -> the kind of name it declares (also the language server's table)
DECLARATION_KINDS: dict[type, str] = {
    A.Segment: "segment",
    A.Content: "content",
    A.Journey: "journey",
    A.Group: "group",
    A.Moments: "moments",
    A.Rotate: "rotate",
    A.Sla: "sla",
}


def obj(**fields: Any) -> Doc:
    """An IR object; absent (None) fields are left out, as in the canonical form."""
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(slots=True)
class Decl:
    kind: str
    node: A.Segment | A.Content | A.Journey | A.Group | A.Moments | A.Rotate | A.Sla


@dataclass
class Env:
    """What lowering reads besides the node it lowers: the playbook's name tables (filled
    by resolve.declare), its custom events, the data's fields and the staff accounts."""

    name: str
    files: list[A.File]
    # None: not known (no data given)
    known_fields: set[str] | None
    # header -> field, for a data file whose columns were read under other names (data/fields.py KnownFields)
    field_aliases: dict[str, str]
    # the staff accounts (records with `id`, maybe `name` and `role`) escalations may name; None: not known
    known_accounts: list[Mapping[str, Any]] | None
    lines: dict[str, list[str]]
    tables: dict[str, dict[str, Decl]] = field(default_factory=lambda: {k: {} for k in KIND_WORDS})
    events_declared: dict[str, A.EventDecl] = field(default_factory=dict)  # `event NAME`: custom events

    @classmethod
    def of(
        cls,
        name: str,
        files: list[A.File],
        known_fields: Iterable[str] | None,
        known_accounts: Iterable[Mapping[str, Any]] | None,
    ) -> Env:
        return cls(
            name=name,
            files=files,
            known_fields=set(known_fields) if known_fields is not None else None,
            field_aliases=dict(getattr(known_fields, "aliases", None) or {}),
            known_accounts=list(known_accounts) if known_accounts is not None else None,
            lines={f.path: f.source.split("\n") for f in files},
        )


@dataclass
class Additions:
    """What compiling declarations adds besides their IR. The language server's memo keeps
    one per declaration it lowered and merges it back when it reuses that lowering."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    fields_used: dict[str, tuple[str, A.Span]] = field(default_factory=dict)
    events_used: set[str] = field(default_factory=set)
    used_contents: set[str] = field(default_factory=set)
    first_dm: tuple[str, A.Span] | None = None

    def merge(self, added: Additions) -> None:
        self.diagnostics.extend(added.diagnostics)
        for key, value in added.fields_used.items():
            self.fields_used.setdefault(key, value)  # the first use wins, as when compiled in place
        self.events_used.update(added.events_used)
        self.used_contents.update(added.used_contents)
        if self.first_dm is None:
            self.first_dm = added.first_dm

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True, slots=True)
class Site:
    """Where a diagnostic goes: the environment, the additions it joins and the file of the
    declaration at hand."""

    env: Env
    out: Additions
    file: str

    def error(self, code: str, message: str, span: A.Span, hint: str = "") -> None:
        self._add(ERROR, code, message, span, hint)

    def warn(self, code: str, message: str, span: A.Span, hint: str = "") -> None:
        self._add(WARNING, code, message, span, hint)

    def _add(self, severity: str, code: str, message: str, span: A.Span, hint: str) -> None:
        lines = self.env.lines.get(self.file, [])
        source_line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        end = span.end_column if span.end_line == span.line else len(source_line) + 1
        self.out.diagnostics.append(
            Diagnostic(severity, code, message, self.file, span.line, span.column, end, hint, source_line)
        )

    def use_field(self, name: str, span: A.Span) -> None:
        self.out.fields_used.setdefault(name, (self.file, span))

    def sends_first(self, span: A.Span) -> None:
        """A 1-on-1 message (dm, invite) at SPAN: the first one found is where no-quiet-hours points."""
        if self.out.first_dm is None:
            self.out.first_dm = (self.file, span)
