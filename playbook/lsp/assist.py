"""Completion, hover and quick fixes — computed from the parser, the syntax trees and the
compiler's diagnostics; no protocol types here (server.py turns them into LSP's)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from playbook.compiler.build import BUILTIN_FIELDS, schedule_text
from playbook.compiler.templates import Placeholder, TemplateError, parse_template
from playbook.eventnames import BUILTIN_EVENTS, EVENT_ALIASES
from playbook.i18n import t, tn
from playbook.lsp import symbols
from playbook.syntax import ast as A
from playbook.syntax import fmt
from playbook.syntax.source import FULL_WIDTH, normalize

_WORD = re.compile(r"[^\W\d]\w*$|$")


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # keyword, segment, content, group, journey, event, field
    detail: str = ""


def _tokens_and_accepts(prefix: str) -> tuple[list[Any], set[str]] | None:
    """Lex and parse PREFIX (the text before the word being typed) with the real LALR
    parser; the tokens read and the terminals it would accept next. None when the text so
    far does not parse."""
    from playbook.syntax.parser import _parser

    p = _parser()
    p.transformer.reset()
    p.comments.clear()
    tokens: list[Any] = []
    try:
        ip = p.lark.parse_interactive(normalize(prefix))
        for tok in ip.iter_parse():
            tokens.append(tok)
        accepted = set(ip.accepts())
    except Exception:  # noqa: BLE001 — any parse or transformer objection: no keyword list
        return None
    finally:
        p.transformer.reset()
        p.comments.clear()
    return tokens, accepted


def _keyword_of(terminal: str) -> str | None:
    from playbook.syntax.parser import _parser

    term = _parser().terminals.get(terminal)
    if term is None:
        return None
    value = str(term.pattern.value)
    return value if term.pattern.type == "str" and value.isalpha() else None


def completions(
    text: str, line: int, column: int, files: list[A.File], fields: Iterable[str]
) -> list[Item]:
    """What may be written at 0-based LINE and character COLUMN of TEXT."""
    lines = text.split("\n")
    current = lines[line] if line < len(lines) else ""
    before = current[:column]
    if re.match(r'\s*timezone\s+["“][^"”]*$', before):
        return [Item(z, "timezone") for z in _timezones()]
    holder = _open_placeholder(before)
    if holder is not None:
        return _field_items(fields, holder)
    word = _WORD.search(before)
    start = word.start() if word else column
    prefix = "\n".join(lines[:line] + [current[:start]])
    parsed = _tokens_and_accepts(prefix)
    if parsed is None:
        return []
    tokens, accepted = parsed
    words = sorted({w for w in (_keyword_of(a) for a in accepted) if w})
    items = [Item(w, "keyword") for w in words]
    if "NAME" in accepted:
        items.extend(_names(tokens, files, fields, _enclosing(prefix)))
    return items


def _timezones() -> list[str]:
    """IANA timezone names, the playbook default first."""
    import zoneinfo

    from playbook.vocab.localtime import DEFAULT_TIMEZONE

    return [DEFAULT_TIMEZONE, *sorted(zoneinfo.available_timezones() - {DEFAULT_TIMEZONE})]


def _open_placeholder(before: str) -> str | None:
    """The placeholder being typed inside a string (`"{na`), or None."""
    quote = before.count('"') - before.count('\\"')
    if quote % 2 == 0 and not re.search(r'"""', before):
        return None
    brace = before.rfind("{")
    if brace < 0 or "}" in before[brace:]:
        return None
    return before[brace + 1 :]


def _field_items(fields: Iterable[str], typed: str) -> list[Item]:
    if typed.startswith("account.") or typed.startswith("event."):
        return []
    return [Item(f, "field") for f in sorted(set(BUILTIN_FIELDS) | set(fields))]


def _enclosing(prefix: str) -> str:
    """The top-level declaration the cursor is in (its keyword), or ''."""
    for raw in reversed(prefix.split("\n")):
        m = re.match(r"([a-z]+)\b", raw)
        if m and m.group(1) in ("segment", "content", "journey", "group", "moments", "rotate", "sla", "event"):
            return m.group(1)
    return ""


def _names(tokens: list[Any], files: list[A.File], fields: Iterable[str], enclosing: str) -> list[Item]:
    """The names that fit after the last tokens read."""
    last = [str(tok) for tok in tokens[-2:]]
    prev = last[-1] if last else ""
    before_prev = last[0] if len(last) == 2 else ""
    declared = _declared(files)
    if enclosing == "sla" and prev == "to":
        return []  # `escalate to ACCOUNT`: the accounts are data, not names the playbook declares
    if prev in ("dm", "post") or (prev == "invite" and enclosing == "group"):
        kinds = ["content"]
    elif prev == "invite" or (before_prev, prev) == ("in", "group"):  # `in group G` (standing groups)
        kinds = ["group"]
    elif prev in ("in", "enter") or (prev == "for" and before_prev not in ("wait",)):
        kinds = ["segment"]
    elif prev in ("on", "goal") or (prev == "for" and before_prev == "wait") or enclosing == "sla":
        return [Item(e, "event") for e in [*BUILTIN_EVENTS, *EVENT_ALIASES, *declared.get("event", [])]]
    elif prev in ("segment", "content", "journey", "group", "moments", "rotate", "sla", "event"):
        return []  # a new name: nothing to complete
    else:
        return [Item(f, "field") for f in sorted(set(BUILTIN_FIELDS) | set(fields))]
    return [Item(n, k) for k in kinds for n in declared.get(k, [])]


def _declared(files: list[A.File]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in symbols.occurrences(files):
        if o.declaration is not None:
            out.setdefault(o.kind, []).append(o.name.value)
    return out


# ---- hover -----------------------------------------------------------------------------------


def hover(
    files: list[A.File],
    here: symbols.Occurrence,
    sample: Mapping[str, Any] | None,
    matches: tuple[int, int] | None = None,
) -> str | None:
    """Markdown for the name under the cursor; MATCHES: (matching, all) sample contacts of
    a segment."""
    found = symbols.declaration(files, here.kind, here.name.value)
    if found is None:
        return None
    decl = found.declaration
    if isinstance(decl, A.Content):
        parts = []
        for part in decl.parts:
            shown = render_sample(part.value.value, sample) if part.key == "text" else part.value.value
            parts.append(f"{part.key}: {shown}" if part.key != "text" else shown)
        head = t("content {name}", name=decl.name.value)
        who = t("(with the sample contact {id})", id=sample.get("id", "")) if sample else ""
        return f"**{head}** {who}".rstrip() + "\n\n" + "\n\n".join(parts)
    if isinstance(decl, A.Segment):
        shown = f"```playbook\nsegment {decl.name.value} = {fmt.expr(decl.expr)}\n```"
        if matches is None:
            return shown
        count = tn("{n} of the {total} sample contacts matches now", "{n} of the {total} sample contacts match now",
                   matches[0], total=matches[1])  # fmt: skip
        return f"{shown}\n\n{count}"
    return f"**{found.kind} {decl.name.value}**"


def render_sample(template: str, sample: Mapping[str, Any] | None) -> str:
    """A content's text with the sample contact's values (or the fallbacks) in place."""
    try:
        pieces = parse_template(template)
    except TemplateError:
        return template
    out = []
    for p in pieces:
        if not isinstance(p, Placeholder):
            out.append(p)
            continue
        value = sample.get(p.field) if sample is not None and p.scope == "contact" else None
        if isinstance(value, list | tuple | set | frozenset):
            value = "、".join(str(v) for v in value)
        if value not in (None, ""):
            out.append(str(value))
        elif p.fallback is not None:
            out.append(p.fallback)
        else:
            out.append("{" + p.path + "}")
    return "".join(out)


# A step's timing label as written at the start of its line (fullwidth colon allowed).
LABEL = re.compile(r"\s*(after\s+\w+|day\s+\d+\s+at\s+\d{1,2}[:：]\d{2}|at\s+\d{1,2}[:：]\d{2})\s*[:：]")


def timing_words(timing: A.Timing) -> str:
    """'day 3 at 20:00' = 3 days after entry, 20:00 local — in the message language."""
    if isinstance(timing, A.After):
        return t("{duration} after the previous step", duration=timing.duration.text or f"{timing.duration.minutes}m")
    if isinstance(timing, A.AtTime):
        return t("the next {clock} local time after the previous step", clock=timing.clock)
    if timing.day == 0:
        return t("the day of entry, {clock} local", clock=timing.clock)
    # Day N counts calendar days from the entry day in the playbook's timezone (LANGUAGE §5).
    return tn("{n} day after the day of entry, {clock} local", "{n} days after the day of entry, {clock} local",
              timing.day, clock=timing.clock)  # fmt: skip


def step_at(files: list[A.File], file: str, line: int) -> A.Step | None:
    """The timed step whose label is on 1-based LINE of FILE."""
    for f in files:
        if f.path != file:
            continue
        for decl in f.declarations:
            for step in _steps(decl):
                if step.timing is not None and line in (step.span.line, step.timing.span.line):
                    return step
    return None


def _steps(node: Any) -> Iterable[A.Step]:
    from playbook.syntax.node import fields, is_node

    if isinstance(node, A.Step):
        yield node
    for info in fields(node):
        value = getattr(node, info.name)
        for item in value if isinstance(value, tuple | list) else (value,):
            if is_node(item) and not isinstance(item, A.Span | A.Name | A.Text):
                yield from _steps(item)


def schedule_words(s: A.Schedule) -> str:
    return schedule_text(s)


# ---- quick fixes -----------------------------------------------------------------------------

_DID_YOU_MEAN = re.compile(r"'([^']+)'[？?]")


def suggestion(message: str) -> str | None:
    """The name a did-you-mean hint suggests (in either language), or None."""
    marker = t("did you mean '{name}'?", name="\0").split("\0")[0]
    at = message.find(marker)
    if at < 0:
        return None
    m = _DID_YOU_MEAN.search(message, at)
    return m.group(1) if m else None


def full_width(line: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) of each full-width punctuation mark outside strings and
    comments on LINE, 0-based characters."""
    ascii_line = normalize(line)
    return [(i, i + 1, ascii_line[i]) for i, ch in enumerate(line) if ch in FULL_WIDTH and ascii_line[i] != ch]
