"""AST → schedule graph: name resolution across a playbook's files, checks, lowering.

One `_Compiler` handles one playbook (a file, or a directory whose .pb files form one
playbook). It never stops at the first problem: every check adds diagnostics and
lowering carries on with what is usable, so the operator sees the whole list at once.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from playbook.compiler.canonical import IR_VERSION, version_of_doc
from playbook.compiler.describe import expr_text
from playbook.compiler.schedules import cron_problem
from playbook.compiler.templates import TemplateError, placeholders
from playbook.diagnostics import ERROR, WARNING, Diagnostic, did_you_mean, nearest
from playbook.eventnames import BUILTIN_EVENTS, EVENT_ALIASES, canonical_event
from playbook.i18n import N_, t
from playbook.syntax import ast as A
from playbook.syntax.keywords import keywords
from playbook.vocab.localtime import DEFAULT_TIMEZONE

# Fields every contact has, or that events maintain (LANGUAGE.md §3).
BUILTIN_FIELDS = (
    "id", "name", "account", "tags", "added_at", "orders", "spent", "last_purchase_at", "last_active_at",
    "groups",
)  # fmt: skip

# WeCom customer groups hold at most 500 members ("外部群最多 500 人",
# https://developer.work.weixin.qq.com/document/path/98429).
DEFAULT_GROUP_SIZE = 500
MAX_GROUP_SIZE = 500
# The IR as the compiler emits it: JSON-ready data, keys as in playbook.compiler.ir.
Doc = dict[str, Any]


def _obj(**fields: Any) -> Doc:
    """An IR object; absent (None) fields are left out, as in the canonical form."""
    return {k: v for k, v in fields.items() if v is not None}


_PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}
# What each kind of declaration is called in messages (translated where shown).
_KIND_WORDS = {
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


# What compiling one declaration adds to the compiler's state besides its IR, and how an
# addition merges into what is there: LoweringMemo replays it for a declaration it reuses.
def _fresh_additions() -> dict[str, Any]:
    return {"diagnostics": [], "fields_used": {}, "events_used": set(), "used_contents": set(), "first_dm": None}


def _merge_addition(current: Any, added: Any) -> Any:
    if isinstance(current, list):
        current.extend(added)
    elif isinstance(current, dict):
        for key, value in added.items():
            current.setdefault(key, value)  # the first use wins, as when compiled in place
    elif isinstance(current, set):
        current.update(added)
    elif current is None:
        return added  # the first one found (first_dm)
    return current


@dataclass(slots=True)
class _Lowered:
    node: Any  # kept so that its id() stays its own while the memo holds it
    doc: Any
    additions: dict[str, Any]


@dataclass
class _Phase:
    environment: tuple[Any, ...]
    kept: list[Any]  # the environment's nodes, alive so that their ids stay theirs
    lowered: dict[int, _Lowered]
    used: dict[int, _Lowered]


class LoweringMemo:
    """Declarations lowered by the last compile of one playbook, reused when the next compile
    is given the very same AST node (the language server's incremental parse hands back
    unchanged declarations as the same objects) in the same environment — what lowering it
    reads besides its own node (see _Compiler._phase). An edit inside one content, one
    segment's condition or one journey thus lowers only what it touched;
    tests/test_compile_memo.py proves the result equals a fresh compile."""

    def __init__(self) -> None:
        self.phases: dict[str, _Phase] = {}
        self.reused = 0  # declarations handed back by the last compile (the tests look)

    def begin(self) -> None:
        self.reused = 0

    def phase(self, name: str, environment: tuple[Any, ...], kept: list[Any]) -> _Phase:
        old = self.phases.get(name)
        lowered = old.lowered if old is not None and old.environment == environment else {}
        self.phases[name] = _Phase(environment, kept, lowered, {})
        return self.phases[name]

    def end(self) -> None:
        for phase in self.phases.values():
            phase.lowered, phase.used = phase.used, {}


@dataclass(slots=True)
class _Decl:
    kind: str
    node: A.Segment | A.Content | A.Journey | A.Group | A.Moments | A.Rotate | A.Sla


class _Compiler:
    def __init__(
        self,
        name: str,
        files: list[A.File],
        known_fields: Iterable[str] | None,
        known_accounts: Iterable[Mapping[str, Any]] | None = None,
        memo: LoweringMemo | None = None,
    ):
        self.name = name
        self.memo = memo
        # the staff accounts (records with `id`, maybe `name` and `role`) escalations may name; None: not known
        self.known_accounts = list(known_accounts) if known_accounts is not None else None
        self.files = files
        self.known_fields = set(known_fields) if known_fields is not None else None
        # header -> field, for a data file whose columns were read under other names (data/fields.py KnownFields)
        self.field_aliases: dict[str, str] = dict(getattr(known_fields, "aliases", None) or {})
        self.lines = {f.path: f.source.split("\n") for f in files}
        self.diagnostics: list[Diagnostic] = []
        self.tables: dict[str, dict[str, _Decl]] = {k: {} for k in _KIND_WORDS}
        self.fields_used: dict[str, tuple[str, A.Span]] = {}
        self.events_used: set[str] = set()
        self.events_declared: dict[str, A.EventDecl] = {}  # `event NAME`: custom events
        self.used_contents: set[str] = set()
        self.first_dm: tuple[str, A.Span] | None = None
        self.file = ""  # the file of the declaration being compiled

    # ---- diagnostics ------------------------------------------------------------------
    def _add(self, severity: str, code: str, message: str, span: A.Span, hint: str, file: str | None) -> None:
        file = self.file if file is None else file
        lines = self.lines.get(file, [])
        source_line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        end = span.end_column if span.end_line == span.line else len(source_line) + 1
        self.diagnostics.append(
            Diagnostic(severity, code, message, file, span.line, span.column, end, hint, source_line)
        )

    def error(self, code: str, message: str, span: A.Span, hint: str = "", file: str | None = None) -> None:
        self._add(ERROR, code, message, span, hint, file)

    def warn(self, code: str, message: str, span: A.Span, hint: str = "", file: str | None = None) -> None:
        self._add(WARNING, code, message, span, hint, file)

    # ---- driver -------------------------------------------------------------------------
    def run(self) -> Doc | None:
        if self.memo is not None:
            self.memo.begin()
        settings = self._collect()
        segments = self._segments()
        contents = self._contents()
        phase = self._phase("declarations", *self._environment())
        journeys = {n: self._lower(phase, self._journey, d.node) for n, d in self.tables["journey"].items()}
        group_decls = self.tables["group"].items()
        groups = {n: self._lower(phase, self._group, d.node) for n, d in group_decls if not _is_standing(d.node)}
        standing = {n: self._lower(phase, self._standing, d.node) for n, d in group_decls if _is_standing(d.node)}
        moments = {n: self._lower(phase, self._moments, d.node) for n, d in self.tables["moments"].items()}
        rotations = {n: self._lower(phase, self._rotation, d.node) for n, d in self.tables["rotate"].items()}
        slas = {n: self._lower(phase, self._sla, d.node) for n, d in self.tables["sla"].items()}
        if self.memo is not None:
            self.memo.end()
        self._check_unused_contents()
        self._check_fields()
        if settings["quiet"] is None and self.first_dm is not None:
            file, span = self.first_dm
            self.warn(
                "no-quiet-hours",
                t("this playbook sends 1-on-1 messages but sets no quiet hours"),
                span,
                t("add a line like: {example}", example="quiet 22:00-08:00"),
                file=file,
            )
        if settings["quiet"] is not None and not any(d.is_error for d in self.diagnostics):
            self._check_welcome_quiet(settings["quiet"], journeys)  # advice: only once the playbook compiles
        if any(d.is_error for d in self.diagnostics):
            return None
        sources = {
            f"{kind}:{name}": _obj(file=d.node.file, line=d.node.span.line)
            for kind, table in self.tables.items()
            for name, d in table.items()
        }
        pb = _obj(
            ir_version=IR_VERSION,
            name=self.name,
            title=settings["title"],
            timezone=settings["timezone"],
            quiet=settings["quiet"],
            limits=settings["limits"],
            segments=segments,
            contents=contents,
            journeys={k: v for k, v in journeys.items() if v is not None},
            groups={k: v for k, v in groups.items() if v is not None},
            standing={k: v for k, v in standing.items() if v is not None} or None,
            moments=moments,
            rotations={k: v for k, v in rotations.items() if v is not None},
            slas=slas,
            fields=sorted(self.fields_used),
            events=sorted(self.events_used),
            sources=sources,
        )
        pb["version"] = version_of_doc(pb)
        return pb

    # ---- reuse (the language server) --------------------------------------------------------
    def _phase(self, name: str, environment: tuple[Any, ...], kept: list[Any] | None = None) -> _Phase | None:
        """The memo's part for declarations lowered against ENVIRONMENT (None: no memo)."""
        if self.memo is None:
            return None
        from playbook.i18n import language

        return self.memo.phase(name, (self.name, language(), *environment), kept or [])

    def _names(self) -> tuple[Any, ...]:
        """The names declared, of every kind (references and their did-you-means read them)."""
        return tuple((kind, tuple(table)) for kind, table in self.tables.items())

    def _environment(self) -> tuple[tuple[Any, ...], list[Any]]:
        """What lowering a journey, group, calendar, rotation or service level reads besides
        its own node: the names declared, the events declared, the contents' nodes (a
        reference checks their placeholders), the data's fields and the staff accounts (an
        escalation names one)."""
        contents = [d.node for d in self.tables["content"].values()]
        fields = None if self.known_fields is None else tuple(sorted(self.known_fields))
        environment = (
            self._names(),
            tuple(self.events_declared),
            tuple(id(node) for node in contents),
            fields,
            tuple(sorted(self.field_aliases.items())),
            None if self.known_accounts is None else tuple(tuple(sorted(a.items())) for a in self.known_accounts),
        )
        return environment, contents

    def _lower(self, phase: _Phase | None, lower: Any, node: Any) -> Any:
        """lower(node), or what it gave for the same node in PHASE's environment last time
        (with its diagnostics and other additions replayed)."""
        if phase is None or self.memo is None:
            return lower(node)
        done = phase.lowered.get(id(node))
        if done is None or done.node is not node:
            saved = {name: getattr(self, name) for name in _fresh_additions()}
            for name, empty in _fresh_additions().items():
                setattr(self, name, empty)
            try:
                doc = lower(node)
                done = _Lowered(node, doc, {name: getattr(self, name) for name in saved})
            finally:
                for name, value in saved.items():
                    setattr(self, name, value)
        else:
            self.memo.reused += 1
        for name, added in done.additions.items():
            setattr(self, name, _merge_addition(getattr(self, name), added))
        self.file = node.file
        phase.used[id(node)] = done
        return done.doc

    # ---- declarations and settings ----------------------------------------------------------
    def _collect(self) -> dict:
        title: A.Title | None = None
        timezone: A.Timezone | None = None
        quiet: A.Quiet | None = None
        limits: list[A.Limit] = []
        for f in self.files:
            self.file = f.path
            for d in f.declarations:
                if isinstance(d, A.Title | A.Timezone | A.Quiet):
                    first = {A.Title: title, A.Timezone: timezone, A.Quiet: quiet}[type(d)]
                    word = {A.Title: "playbook", A.Timezone: "timezone", A.Quiet: "quiet"}[type(d)]
                    if first is not None:
                        self.error(
                            "duplicate-setting",
                            t("'{setting}' is set more than once", setting=word),
                            d.span,
                            t("it is already set at {place}", place=f"{first.file}:{first.span.line}"),
                        )
                        continue
                    if isinstance(d, A.Title):
                        title = d
                    elif isinstance(d, A.Timezone):
                        timezone = d
                    else:
                        quiet = d
                elif isinstance(d, A.Limit):
                    d.file = f.path
                    limits.append(d)
                elif isinstance(d, A.EventDecl):
                    self.events_declared.setdefault(canonical_event(d.name.value), d)
                else:
                    self._declare(DECLARATION_KINDS[type(d)], d)  # type: ignore[arg-type]
        tz = DEFAULT_TIMEZONE
        if timezone is not None:
            self.file = timezone.file
            tz = timezone.name.value
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                hint = did_you_mean(tz, zoneinfo.available_timezones()) or t(
                    "use an IANA name like {example}", example=DEFAULT_TIMEZONE
                )
                self.error("timezone", t("unknown timezone '{name}'", name=tz), timezone.span, hint)
        quiet_ir = None
        if quiet is not None:
            self.file = quiet.file
            w = quiet.window
            if w.start.minutes == w.end.minutes:
                self.error("quiet", t("the quiet window starts and ends at the same time"), w.span)
            quiet_ir = _obj(start=str(w.start), end=str(w.end))
        return {
            "title": title.text.value if title else None,
            "timezone": tz,
            "quiet": quiet_ir,
            "limits": self._limits(limits),
        }

    def _declare(
        self, kind: str, node: A.Segment | A.Content | A.Journey | A.Group | A.Moments | A.Rotate | A.Sla
    ) -> None:
        name = node.name.value
        table = self.tables[kind]
        if name in keywords():
            self.error(
                "reserved-name",
                t("'{name}' is a keyword and cannot name a {kind}", name=name, kind=t(_KIND_WORDS[kind])),
                node.name.span,
                t("pick another name (Chinese names work well)"),
            )
            return
        if name in table:
            first = table[name].node
            self.error(
                "duplicate-name",
                t("{kind} '{name}' is declared twice", kind=t(_KIND_WORDS[kind]), name=name),
                node.name.span,
                t("the first one is at {place}", place=f"{first.file}:{first.span.line}"),
            )
            return
        table[name] = _Decl(kind, node)

    def _limits(self, limits: list[A.Limit]) -> list[Doc]:
        out: list[Doc] = []
        seen: dict[tuple[str, str, str], A.Limit] = {}
        for lim in limits:
            self.file = lim.file
            if lim.count < 1:
                self.error(
                    "limit",
                    t("a limit must allow at least 1"),
                    lim.span,
                    t("to send nothing on a channel, remove its steps"),
                )
                continue
            key = (lim.channel, lim.scope, lim.period)
            if key in seen:
                other = seen[key]
                self.error(
                    "limit-conflict",
                    t("'{limit}' is given twice", limit=f"limit {lim.channel} … per {lim.scope} per {lim.period}"),
                    lim.span,
                    t(
                        "the other one ({count}) is at {place}; keep one",
                        count=other.count,
                        place=f"{other.file}:{other.span.line}",
                    ),
                )
                continue
            seen[key] = lim
            out.append(
                _obj(
                    channel=lim.channel,
                    count=int(lim.count),
                    scope=lim.scope,
                    period=lim.period,
                    action=lim.action or "defer",
                )  # type: ignore[arg-type]
            )
        # A longer period that allows fewer than a shorter one makes the shorter one moot;
        # the reverse (a shorter period allowing more than a longer one) is a contradiction
        # in the operator's intent worth pointing out.
        for (channel, scope, period), lim in seen.items():
            for (c2, s2, p2), other in seen.items():
                if (c2, s2) != (channel, scope) or _PERIOD_DAYS[p2] <= _PERIOD_DAYS[period]:
                    continue
                if lim.count > other.count:
                    self.file = lim.file
                    self.warn(
                        "limit-ineffective",
                        t(
                            "{count} per {period} can never be reached: {other_count} per {other_period} is lower",
                            count=lim.count,
                            period=period,
                            other_count=other.count,
                            other_period=p2,
                        ),
                        lim.span,
                    )
        return out

    # ---- segments and expressions --------------------------------------------------------------
    def _segments(self) -> dict[str, Doc]:
        phase = self._phase("segments", (self._names(),))  # a condition reads the names declared
        out = {name: self._lower(phase, self._segment, d.node) for name, d in self.tables["segment"].items()}
        self._check_cycles(out)
        return out

    def _segment(self, node: A.Segment) -> Doc:
        self.file = node.file
        uses: list[str] = []
        expr = self.expr(node.expr, events=False, segment_uses=uses)
        return _obj(name=node.name.value, expr=expr, uses=sorted(set(uses)))

    def _check_cycles(self, segments: dict[str, Doc]) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done
        reported: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            for dep in segments[name]["uses"]:
                if dep not in segments:
                    continue
                if state.get(dep) == 1:
                    cycle = path[path.index(dep) :] + [dep]
                    if not reported & set(cycle):
                        reported.update(cycle)
                        node = self.tables["segment"][dep].node
                        self.error(
                            "segment-cycle",
                            t("segment '{name}' refers to itself: {cycle}", name=dep, cycle=" → ".join(cycle)),
                            node.name.span,
                            t("a segment cannot be defined in terms of itself"),
                            file=node.file,
                        )
                elif state.get(dep) is None:
                    visit(dep, path + [dep])
            state[name] = 2

        for name in segments:
            if state.get(name) is None:
                visit(name, [name])

    def expr(self, e: A.Expr, *, events: bool, segment_uses: list[str] | None = None) -> Doc:
        """Lower an expression; `events` says whether `event.*` means something here."""
        if isinstance(e, A.BoolOp):
            args = []
            for side in (e.left, e.right):
                lowered = self.expr(side, events=events, segment_uses=segment_uses)
                # a and b and c nests to the left in the AST; the IR keeps one flat list.
                if lowered["op"] == e.op:
                    args.extend(lowered["args"])
                else:
                    args.append(lowered)
            return _obj(op="and", args=args) if e.op == "and" else _obj(op="or", args=args)
        if isinstance(e, A.Not):
            return _obj(op="not", arg=self.expr(e.operand, events=events, segment_uses=segment_uses))
        if isinstance(e, A.Compare):
            field = self._field(e.field, events)
            if isinstance(e.operand, A.Field):
                value: Doc | Doc = _obj(field=self._field(e.operand, events))
            else:
                value = _lit(e.operand)
            return _obj(op="cmp", field=field, cmp=e.op, value=value)  # type: ignore[arg-type]
        if isinstance(e, A.InList):
            lowered_in = _obj(op="in", field=self._field(e.field, events), values=[_lit(v) for v in e.values])
            return _obj(op="not", arg=lowered_in) if e.negated else lowered_in
        if isinstance(e, A.Within):
            return _obj(op="within", field=self._field(e.field, events), minutes=e.duration.minutes)
        if isinstance(e, A.IsSet):
            lowered_set = _obj(op="is_set", field=self._field(e.field, events))
            return _obj(op="not", arg=lowered_set) if e.negated else lowered_set
        if isinstance(e, A.HasTag):
            return _obj(op="tag", tag=e.tag.value)
        if isinstance(e, A.InGroup):
            self._known("group", e.group)
            return _obj(op="group", group=e.group.value)
        assert isinstance(e, A.InSegment)
        name = self._segment_ref(e.segment)
        if segment_uses is not None:
            segment_uses.append(name)
        return _obj(op="segment", segment=name)

    def _field(self, f: A.Field, events: bool) -> str:
        path = f.path
        if len(path) > 2 or (len(path) == 2 and path[0] not in ("event", "account")):
            self.error(
                "field",
                t("'{name}' is not a field", name=f.dotted),
                f.span,
                t("use a contact field (spent), account.<field> or event.<field>"),
            )
        elif path[0] == "event" and len(path) == 2 and not events:
            self.error(
                "event-field",
                t("'{name}' has no event to read from here", name=f.dotted),
                f.span,
                t(
                    "event.* can be used where an event is at hand: on/exit on/goal/wait for … where, "
                    "and in journeys entered on an event"
                ),
            )
        elif len(path) == 1:
            self.fields_used.setdefault(path[0], (self.file, f.span))
        return f.dotted

    # ---- content ---------------------------------------------------------------------------------
    def _contents(self) -> dict[str, Doc]:
        phase = self._phase("contents", ())  # a content reads nothing but itself
        return {name: self._lower(phase, self._content, d.node) for name, d in self.tables["content"].items()}

    def _content(self, node: A.Content) -> Doc:
        name = node.name.value
        self.file = node.file
        fields: dict[str, object] = {"name": name, "images": []}
        holders: list[Doc] = []
        for part in node.parts:
            key = part.key
            if key == "image":
                fields["images"].append(part.value.value)  # type: ignore[attr-defined]
            elif key in fields:
                self.error("content", t("'{key}' is given twice in content '{name}'", key=key, name=name), part.span)
                continue
            else:
                fields[key] = part.value.value
            holders.extend(self._template(part.value))
        if "link" in fields and "miniprogram" in fields:
            self.error(
                "content",
                t("content '{name}' has both a link and a mini-program", name=name),
                node.name.span,
                t("split it into two contents"),
            )
        for key in ("title", "desc"):
            if key in fields and "link" not in fields and "miniprogram" not in fields:
                self.error(
                    "content",
                    t("'{key}' describes a link or a mini-program, and '{name}' has neither", key=key, name=name),
                    node.name.span,
                )
        if "page" in fields and "miniprogram" not in fields:
            self.error(
                "content",
                t("'{key}' belongs to a mini-program, and '{name}' has none", key="page", name=name),
                node.name.span,
            )
        if "miniprogram" in fields:
            for key in ("page", "title"):
                if key not in fields:
                    self.error(
                        "content",
                        t("the mini-program in '{name}' needs a '{key}'", name=name, key=key),
                        node.name.span,
                    )
        if len(fields) == 2 and not fields["images"]:
            self.error(
                "content",
                t("content '{name}' is empty", name=name),
                node.name.span,
                t("give it a text, an image or a link"),
            )
        unique = {(p["path"], p.get("fallback")): p for p in holders}
        fields["placeholders"] = [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1] or ""))]
        return _obj(**fields)  # type: ignore[arg-type]

    def _template(self, text: A.Text) -> list[Doc]:
        try:
            holders = placeholders(text.value)
        except TemplateError as exc:
            self.error("placeholder", exc.message, text.span, exc.hint)
            return []
        for p in holders:
            if p.scope == "contact":
                self.fields_used.setdefault(p.path, (self.file, text.span))
        return [_obj(path=p.path, fallback=p.fallback) for p in holders]

    def _content_ref(self, name: A.Name, *, with_event: bool) -> str:
        content = name.value
        table = self.tables["content"]
        if not self._known("content", name):
            return content
        self.used_contents.add(content)
        if not with_event:
            node: A.Content = table[content].node  # type: ignore[assignment]
            for part in node.parts:
                try:
                    missing = [p for p in placeholders(part.value.value) if p.scope == "event" and p.fallback is None]
                except TemplateError:
                    continue
                if missing:
                    self.warn(
                        "unresolvable-placeholder",
                        t(
                            "'{placeholder}' in content '{name}' can never be filled here: no event starts this",
                            placeholder="{" + missing[0].path + "}",
                            name=content,
                        ),
                        name.span,
                        t(
                            "give it a fallback like {example} or use it only in journeys started by an event",
                            example="{" + missing[0].path + "|…}",
                        ),
                    )
                    break
        return content

    def _text_without_event(self, text: A.Text) -> None:
        try:
            missing = [p for p in placeholders(text.value) if p.scope == "event" and p.fallback is None]
        except TemplateError:
            return
        if missing:
            self.warn(
                "unresolvable-placeholder",
                t(
                    "'{placeholder}' can never be filled here: no event starts this",
                    placeholder="{" + missing[0].path + "}",
                ),
                text.span,
                t("give it a fallback like {example}", example="{" + missing[0].path + "|…}"),
            )

    def _check_unused_contents(self) -> None:
        for name, decl in self.tables["content"].items():
            if name not in self.used_contents:
                node = decl.node
                self.warn("unused", t("content '{name}' is never sent", name=name), node.name.span, file=node.file)

    def _check_fields(self) -> None:
        if self.known_fields is None:
            return
        known = self.known_fields | set(BUILTIN_FIELDS)
        for field, (file, span) in sorted(self.fields_used.items()):
            if field not in known:
                alias = self.field_aliases.get(field)
                hint = t("the column '{column}' is read as the field '{field}': write {field}", column=field,
                         field=alias) if alias else did_you_mean(field, known)  # fmt: skip
                self.warn(
                    "unknown-field",
                    t("no contact in the data has a field '{name}'", name=field),
                    span,
                    hint or t("known fields: {fields}", fields=", ".join(sorted(known))),
                    file=file,
                )

    def _event(self, name: A.Name) -> str:
        """An event a journey (or service level) waits for: a built-in one (by its name or
        a Chinese name, eventnames.py), or one the playbook declares (`event NAME`); any
        other is a warning — nothing would ever send it."""
        event = canonical_event(name.value)
        self.events_used.add(event)
        if event not in BUILTIN_EVENTS and event not in self.events_declared:
            known = [*BUILTIN_EVENTS, *EVENT_ALIASES, *self.events_declared]
            near = nearest(event, known)
            example = f"event {event}"
            hint = (t("did you mean '{name}'? If it is an event of your own, declare it: {example}", name=near,
                      example=example)
                    if near else t("if it is an event of your own, declare it: {example}", example=example))  # fmt: skip
            self.warn(
                "unknown-event",
                t("'{name}' is neither a built-in event nor declared with 'event'", name=event),
                name.span,
                hint,
            )
        return event

    def _segment_ref(self, name: A.Name) -> str:
        self._known("segment", name)
        return name.value

    def _known(self, kind: str, name: A.Name) -> bool:
        """Whether a referenced segment/content/group is declared; an error when it is not."""
        table = self.tables[kind]
        if name.value in table:
            return True
        message = {"segment": "unknown segment '{name}'", "content": "unknown content '{name}'",
                   "group": "unknown group '{name}'"}[kind]  # fmt: skip
        self.error("unknown-name", t(message, name=name.value), name.span, did_you_mean(name.value, table))
        return False

    # ---- schedules --------------------------------------------------------------------------------
    def schedule(self, s: A.Schedule) -> Doc:
        if isinstance(s, A.EveryDay):
            return _obj(kind="weekly", weekdays=list(range(7)), times=_times(s.times))
        if isinstance(s, A.EveryWeekday):
            return _obj(kind="weekly", weekdays=[0, 1, 2, 3, 4], times=_times(s.times))
        if isinstance(s, A.EveryWeekend):
            return _obj(kind="weekly", weekdays=[5, 6], times=_times(s.times))
        if isinstance(s, A.EveryWeekdays):
            return _obj(kind="weekly", weekdays=self.weekdays(s.days), times=_times(s.times))
        if isinstance(s, A.EveryMonth):
            return _obj(kind="monthly", days=sorted(set(s.days)), times=_times(s.times))
        if isinstance(s, A.EveryInterval):
            if s.every.minutes >= 24 * 60:
                self.error(
                    "schedule",
                    t("'every' with a duration repeats within a day; it must be shorter than 1d"),
                    s.every.span,
                    t(
                        "for daily or weekly, write '{daily}' or '{weekly}'",
                        daily="every day at 10:00",
                        weekly="every mon at 10:00",
                    ),
                )
            between = None
            if s.between is not None:
                if s.between.end.minutes <= s.between.start.minutes:
                    self.error("schedule", t("the 'between' window must end after it starts"), s.between.span)
                between = [str(s.between.start), str(s.between.end)]
            return _obj(kind="interval", minutes=s.every.minutes, between=between)
        assert isinstance(s, A.Cron)
        problem = cron_problem(s.expression.value)
        if problem:
            self.error(
                "cron",
                problem,
                s.expression.span,
                t("for example {example} is 10:00 on weekdays", example='cron "0 10 * * 1-5"'),
            )
        return _obj(kind="cron", expr=s.expression.value)

    def weekdays(self, items: tuple[A.WeekdayItem, ...]) -> list[int]:
        days: set[int] = set()
        for item in items:
            if item.last is None:
                days.add(item.first)
            elif item.last < item.first:
                self.error("schedule", t("a weekday range runs forward, like {example}", example="mon-fri"), item.span)
            else:
                days.update(range(item.first, item.last + 1))
        return sorted(days)

    # ---- journeys -----------------------------------------------------------------------------------
    def _check_welcome_quiet(self, quiet: Doc, journeys: dict[str, Doc | None]) -> None:
        """The choice made for an immediate reply to a friend request (docs/language.md §12):
        quiet hours hold it like every other touch. An `on friend_added` journey whose first
        step is an untimed dm is told so: friends added at night are greeted when the quiet
        hours end (then no longer as the platform's welcome message)."""
        for name, decl in self.tables["journey"].items():
            journey = journeys.get(name)
            if not journey:
                continue
            entries = journey.get("entry")
            entries = entries if isinstance(entries, list) else [entries] if entries else []
            if not any(e.get("kind") == "event" and e.get("event") == "friend_added" for e in entries):
                continue
            first = journey.get("nodes", {}).get(journey.get("start"))
            if not first or first.get("kind") != "dm" or first.get("timing"):
                continue
            step = next((m for m in decl.node.members if isinstance(m, A.Step)), None)  # type: ignore[attr-defined]
            if step is None:
                continue
            self.warn(
                "welcome-quiet-hours",
                t("friends added during quiet hours ({start}-{end}) are greeted when the quiet hours end, not at once",
                  start=quiet["start"], end=quiet["end"]),
                step.span,
                t("quiet hours hold a reply to a friend request too; keep it so and silence this with "
                  "'# ignore: welcome-quiet-hours', or narrow the quiet window"),
                file=decl.node.file,  # type: ignore[attr-defined]
            )  # fmt: skip

    def _journey(self, j: A.Journey) -> Doc | None:
        self.file = j.file
        name = j.name.value
        entries: list[Doc] = []
        exits: list[Doc] = []
        reenter = goal = priority = None
        steps: list[A.Step] = []
        by_event = False
        for m in j.members:
            if isinstance(m, A.Step):
                steps.append(m)
                continue
            if steps:
                self.error(
                    "clause-order",
                    t("settings of a journey (on, exit, reenter, goal, priority) come before its steps"),
                    m.span,
                    t("move this line above the first step"),
                )
            if isinstance(m, A.EntryOn):
                by_event = True
                entries.append(_obj(kind="event", event=self._event(m.event), where=self._where(m.where, True)))
            elif isinstance(m, A.EntryEnter):
                entries.append(_obj(kind="segment", segment=self._segment_ref(m.segment)))
            elif isinstance(m, A.EntrySchedule):
                entries.append(
                    _obj(kind="schedule", schedule=self.schedule(m.schedule), segment=self._segment_ref(m.segment))
                )
            elif isinstance(m, A.EntryAt):
                entries.append(
                    _obj(kind="once", at=m.at.value.isoformat(timespec="minutes"), segment=self._segment_ref(m.segment))
                )
            elif isinstance(m, A.ExitOn):
                exits.append(_obj(kind="event", event=self._event(m.event), where=self._where(m.where, True)))
            elif isinstance(m, A.ExitWhen):
                exits.append(_obj(kind="condition", condition=self.expr(m.condition, events=False)))
            elif isinstance(m, A.Reenter | A.Goal | A.Priority):
                word = {A.Reenter: "reenter", A.Goal: "goal", A.Priority: "priority"}[type(m)]
                if {"reenter": reenter, "goal": goal, "priority": priority}[word] is not None:
                    self.error(
                        "duplicate-clause",
                        t("'{clause}' is given twice in journey '{name}'", clause=word, name=name),
                        m.span,
                    )
                elif isinstance(m, A.Reenter):
                    reenter = m.after.minutes
                elif isinstance(m, A.Goal):
                    goal = _obj(
                        event=self._event(m.event), where=self._where(m.where, True), within_minutes=m.within.minutes
                    )
                else:
                    priority = m.value
        if not entries:
            self.error(
                "entry",
                t("journey '{name}' has no entry", name=name),
                j.name.span,
                t("add one of: on EVENT, on enter SEGMENT, every … for SEGMENT, at DATETIME for SEGMENT"),
            )
        elif len(entries) > 1:
            self.error(
                "entry",
                t("journey '{name}' has {count} entries; a journey has exactly one", name=name, count=len(entries)),
                j.name.span,
            )
        if not steps:
            self.warn("empty-journey", t("journey '{name}' has no steps", name=name), j.name.span)
        graph = _Graph(self, events=by_event, where=f"journey '{name}'")
        start = graph.lower(tuple(steps), None)
        self._check_split_goal(steps, goal is not None)
        self._check_spam(name, steps)
        if not entries:
            return None
        return _obj(
            name=name,
            entry=entries[0],
            exits=exits,
            reenter_after_minutes=reenter,
            goal=goal,
            priority=priority or 0,
            start=start,
            nodes=graph.ordered(),
        )

    def _where(self, where: A.Expr | None, events: bool) -> Doc | None:
        return None if where is None else self.expr(where, events=events)

    # ---- groups ---------------------------------------------------------------------------------------
    def _group(self, g: A.Group) -> Doc | None:
        self.file = g.file
        name = g.name.value
        found: dict[type, A.GroupMember] = {}
        steps: list[A.Step] = []
        closing: list[A.Step] = []
        for m in g.members:
            if isinstance(m, A.Step):
                steps.append(m)
            elif isinstance(m, A.Closing):
                closing.append(A.Step(None, m.action, m.span))
            elif isinstance(m, A.Admit | A.Owner | A.GroupEvery | A.Lapse):
                self.error("standing-clause", t("this belongs to a standing group; group '{name}' has 'opens' or "
                                                "'lasts', so it is a short-term group", name=name), m.span,
                           t("leave out 'opens' and 'lasts' for a group that is always open"))  # fmt: skip
            else:
                kind = A.OpensOnce if isinstance(m, A.OpensSeries) else type(m)
                if kind in found:
                    self.error("duplicate-clause", t("group '{name}' says this twice", name=name), m.span)
                else:
                    found[kind] = m
        missing = [
            w for t, w in ((A.OpensOnce, "opens"), (A.Lasts, "lasts"), (A.GroupInvite, "invite")) if t not in found
        ]
        for word in missing:
            hint = {
                "opens": t(
                    "for example: {example}, or {other}",
                    example="opens 2026-12-10 10:00",
                    other="opens every fri at 10:00",
                ),
                "lasts": t("for example: {example}", example="lasts 3d"),
                "invite": t(
                    "name the content sent to invite each member, for example: {example}", example="invite 预售邀请"
                ),
            }[word]
            self.error(
                "group-" + word, t("group '{name}' has no '{clause}'", name=name, clause=word), g.name.span, hint
            )
        title = found.get(A.GroupTitle)
        if title is not None:
            self._template(title.text)  # type: ignore[union-attr]
            self._text_without_event(title.text)  # type: ignore[union-attr]
        members = found.get(A.GroupMembers)
        opens = found.get(A.OpensOnce)
        lasts = found.get(A.Lasts)
        size = found.get(A.Size)
        invite = found.get(A.GroupInvite)
        invite_name = self._content_ref(invite.content, with_event=False) if invite else ""  # type: ignore[union-attr]
        if invite is not None and self.first_dm is None:
            self.first_dm = (self.file, invite.span)
        if size is not None and size.value < 2:  # type: ignore[union-attr]
            self.error("group-size", t("a group needs room for at least 2 members"), size.span)
        graph = _Graph(self, events=False, where=f"group '{name}'", group=True)
        start = graph.lower(tuple(steps), None)
        closing_ids = [graph.lower((s,), None) for s in closing]
        if missing:
            return None
        opens_ir = (
            _obj(at=opens.at.value.isoformat(timespec="minutes"))  # type: ignore[union-attr]
            if isinstance(opens, A.OpensOnce)
            else _obj(schedule=self.schedule(opens.schedule))  # type: ignore[union-attr]
        )
        return _obj(
            name=name,
            title=title.text.value if title else name,  # type: ignore[union-attr]
            members=self.expr(members.expr, events=False) if members else None,  # type: ignore[union-attr]
            opens=opens_ir,
            lasts_minutes=lasts.duration.minutes,  # type: ignore[union-attr]
            size=int(size.value) if size else DEFAULT_GROUP_SIZE,  # type: ignore[union-attr]
            invite=invite_name,
            start=start,
            nodes=graph.ordered(),
            closing=[c for c in closing_ids if c],
        )

    # ---- standing groups (docs/language.md §7.2) --------------------------------------------------------
    def _standing(self, g: A.Group) -> Doc | None:
        """A group without `opens` and `lasts`: always open, entered by invitation."""
        self.file = g.file
        name = g.name.value
        found: dict[type, A.GroupMember] = {}
        posts: list[Doc] = []
        lapse: list[A.Step] = []
        for m in g.members:
            if isinstance(m, A.GroupEvery):
                content = self._content_ref(m.content, with_event=False)
                label = f"{schedule_text(m.schedule)}: post {content}"
                posts.append(_obj(label=label, schedule=self.schedule(m.schedule), content=content))
            elif isinstance(m, A.Lapse):
                if isinstance(m.action, A.Dm | A.Task | A.TagAdd | A.TagRemove):
                    lapse.append(A.Step(None, m.action, m.span))
                else:
                    self.error("standing-lapse", t("'when not admitted' can send a dm, create a task or change a "
                                                   "tag"), m.action.span)  # fmt: skip
            elif isinstance(m, A.Step | A.Closing | A.GroupMembers):
                word = "members" if isinstance(m, A.GroupMembers) else "closing" if isinstance(m, A.Closing) else ""
                self.error(
                    "standing-clause",
                    t("group '{name}' is a standing group (no 'opens' or 'lasts'): it has no {what}", name=name,
                      what=t("opening to count days from") if not word else f"'{word}'"),
                    m.span,
                    t("a short-term group needs 'opens' and 'lasts'; a standing group admits with {admit} and posts on a "
                      "schedule: {every}", admit="admit in VIP",
                      every="every wed at 20:00: post 会员价"),
                )  # fmt: skip
            elif type(m) in found:
                self.error("duplicate-clause", t("group '{name}' says this twice", name=name), m.span)
            else:
                found[type(m)] = m
        invite = found.get(A.GroupInvite)
        if invite is None:
            self.error("group-invite", t("group '{name}' has no '{clause}'", name=name, clause="invite"), g.name.span,
                       t("name the content sent to invite each member, for example: {example}",
                         example="invite VIP邀请"))  # fmt: skip
        elif self.first_dm is None:
            self.first_dm = (self.file, invite.span)
        title = found.get(A.GroupTitle)
        if title is not None:
            self._template(title.text)  # type: ignore[union-attr]
            self._text_without_event(title.text)  # type: ignore[union-attr]
        size = found.get(A.Size)
        if size is not None and not 2 <= size.value <= MAX_GROUP_SIZE:  # type: ignore[union-attr]
            self.error("group-size", t("a customer group holds 2 to {most} members", most=MAX_GROUP_SIZE), size.span,
                       t("WeCom customer groups hold at most 500; a full group overflows into the next one"))  # fmt: skip
        admit = found.get(A.Admit)
        owner = found.get(A.Owner)
        invite_name = self._content_ref(invite.content, with_event=False) if invite else ""  # type: ignore[union-attr]
        graph = _Graph(self, events=False, where=f"group '{name}'")
        lapse_ids = [graph.lower((s,), None) for s in lapse]
        if invite is None:
            return None
        return _obj(
            name=name,
            title=title.text.value if title else name,  # type: ignore[union-attr]
            admit=self.expr(admit.expr, events=False) if admit else None,  # type: ignore[union-attr]
            owner=owner.account.value if owner else None,  # type: ignore[union-attr]
            size=int(size.value) if size else DEFAULT_GROUP_SIZE,  # type: ignore[union-attr]
            invite=invite_name,
            posts=posts,
            lapse=[i for i in lapse_ids if i],
            nodes=graph.ordered(),
        )

    # ---- Moments, rotations, SLAs ---------------------------------------------------------------------
    def _moments(self, m: A.Moments) -> Doc:
        self.file = m.file
        rules = []
        for r in m.rules:
            content = self._content_ref(r.content, with_event=False)
            visible = self.expr(r.visible, events=False) if r.visible is not None else None
            label = f"{_when_label(r.when)}: post {content}"
            if isinstance(r.when, A.DateTimeLit):
                rules.append(
                    _obj(label=label, at=r.when.value.isoformat(timespec="minutes"), content=content, visible=visible)
                )
            else:
                rules.append(_obj(label=label, schedule=self.schedule(r.when), content=content, visible=visible))
        if not rules:
            self.warn("empty-moments", t("Moments calendar '{name}' posts nothing", name=m.name.value), m.name.span)
        result = _obj(name=m.name.value, rules=rules)
        self._check_crowded(m, result)
        return result

    def _rotation(self, r: A.Rotate) -> Doc | None:
        self.file = r.file
        name = r.name.value
        found: dict[type, A.RotateMember] = {}
        for m in r.members:
            if type(m) in found:
                self.error("duplicate-clause", t("rotation '{name}' says this twice", name=name), m.span)
            found[type(m)] = m
        missing = [
            w
            for t, w in ((A.RotateEach, "each contact every"), (A.RotateAt, "at"), (A.RotateTask, "task"))
            if t not in found
        ]
        for word in missing:
            self.error(
                "rotate",
                t("rotation '{name}' has no '{clause}'", name=name, clause=word),
                r.name.span,
                t("for example: {example}", example='each contact every 30d / at 10:00 on mon-fri / task "…"'),
            )
        each = found.get(A.RotateEach)
        if each is not None and each.period.minutes % (24 * 60):  # type: ignore[union-attr]
            self.error(
                "rotate",
                t("a rotation period is a whole number of days, like {example}", example="30d"),
                each.period.span,  # type: ignore[union-attr]
            )
        order = found.get(A.RotateOrder)
        order_by = "added_at"
        if order is not None:
            order_by = self._field(order.field, False)  # type: ignore[union-attr]
        task = found.get(A.RotateTask)
        if task is not None:
            self._template(task.text)  # type: ignore[union-attr]
            self._text_without_event(task.text)  # type: ignore[union-attr]
        at = found.get(A.RotateAt)
        members = found.get(A.RotateMembers)
        if missing:
            return None
        days = self.weekdays(at.days) if at.days else list(range(7))  # type: ignore[union-attr]
        return _obj(
            name=name,
            period_days=max(each.period.minutes // (24 * 60), 1),  # type: ignore[union-attr]
            order_by=order_by,
            descending=bool(order and order.descending),  # type: ignore[union-attr]
            time=str(at.clock),  # type: ignore[union-attr]
            weekdays=days,
            task=task.text.value,  # type: ignore[union-attr]
            members=self.expr(members.expr, events=False) if members else None,  # type: ignore[union-attr]
        )

    def _sla(self, s: A.Sla) -> Doc:
        self.file = s.file
        during = None
        if s.during is not None:
            if s.during.end.minutes <= s.during.start.minutes:
                self.error(
                    "sla", t("the 'during' window must end after it starts (it cannot wrap midnight)"), s.during.span
                )
            during = [str(s.during.start), str(s.during.end)]
        return _obj(
            name=s.name.value,
            trigger=self._event(s.trigger),
            answer=self._event(s.answer),
            within_minutes=s.within.minutes,
            during=during,
            remind_minutes=self._sla_reminders(s),
            escalations=self._sla_escalations(s),
        )

    def _sla_reminders(self, s: A.Sla) -> list[int] | None:
        """`remind at D` clauses: each inside the allowance, in increasing order, none twice.
        None when there are none (the default reminder at 80% of the allowance)."""
        reminders = [m for m in s.members if isinstance(m, A.SlaRemind)]
        previous: A.SlaRemind | None = None
        for m in reminders:
            if m.at.minutes >= s.within.minutes:
                self.error("sla-remind", t("a reminder at {at} is not inside the allowance of {within}",
                                           at=m.at.text, within=s.within.text), m.at.span,
                           t("remind at a duration shorter than {within}", within=s.within.text))  # fmt: skip
            elif previous is not None and m.at.minutes == previous.at.minutes:
                self.error("sla-remind", t("a reminder at {at} is written twice", at=m.at.text), m.at.span)
            elif previous is not None and m.at.minutes < previous.at.minutes:
                self.error("sla-remind", t("reminders must come in increasing order: {at} after {previous}",
                                           at=m.at.text, previous=previous.at.text), m.at.span)  # fmt: skip
            previous = m
        return [m.at.minutes for m in reminders] or None

    def _sla_escalations(self, s: A.Sla) -> list[Doc] | None:
        """`escalate to ACCOUNT|"role" after D` clauses, each later than the one before; the
        account or role checked against the accounts when they are known."""
        out: list[Doc] = []
        previous: A.SlaEscalate | None = None
        for m in (x for x in s.members if isinstance(x, A.SlaEscalate)):
            if previous is not None and m.after.minutes <= previous.after.minutes:
                self.error("sla-escalate", t("escalations must come in increasing order: after {after} follows "
                                             "after {previous}", after=m.after.text, previous=previous.after.text),
                           m.after.span)  # fmt: skip
            previous = m
            if isinstance(m.target, A.Name):
                self._check_account(m.target)
                out.append(_obj(account=m.target.value, after_minutes=m.after.minutes))
            else:
                self._check_role(m.target)
                out.append(_obj(role=m.target.value, after_minutes=m.after.minutes))
        return out or None

    def _check_account(self, name: A.Name) -> None:
        """An escalation's account must be one of the accounts (when they are known)."""
        if self.known_accounts is None or any(a.get("id") == name.value for a in self.known_accounts):
            return
        by_name = [str(a["id"]) for a in self.known_accounts if a.get("name") == name.value and a.get("id")]
        hint = (t("{name} is the name of account {id}: write its id", name=name.value, id=by_name[0]) if by_name
                else did_you_mean(name.value, (str(a["id"]) for a in self.known_accounts if a.get("id"))))  # fmt: skip
        self.error("unknown-account", t("unknown account '{name}'", name=name.value), name.span, hint)

    def _check_role(self, role: A.Text) -> None:
        """An escalation's role must be held by an account (the accounts' `role` column)."""
        if self.known_accounts is None:
            return
        roles = {str(a["role"]) for a in self.known_accounts if a.get("role") is not None}
        if role.value in roles:
            return
        if not roles:
            self.error("unknown-role", t("no account has the role \"{role}\": the accounts have no role column",
                                         role=role.value), role.span,
                       t("add a role column to the accounts file (e.g. id,name,role with 店长 on the supervisor's "
                         "row), or escalate to an account id"))  # fmt: skip
            return
        self.error("unknown-role", t("no account has the role \"{role}\"", role=role.value), role.span,
                   did_you_mean(role.value, roles))  # fmt: skip

    # ---- practice lints ---------------------------------------------------------------------------------
    def _check_split_goal(self, steps: list[A.Step], has_goal: bool) -> None:
        if has_goal:
            return
        for step in _walk(steps):
            if isinstance(step.action, A.Split):
                self.warn(
                    "split-without-goal",
                    t("this split has no goal to measure which arm works better"),
                    step.action.span,
                    t("add a goal to the journey, e.g. {example}", example="goal purchase within 14d"),
                )
                return

    def _check_spam(self, name: str, steps: list[A.Step]) -> None:
        # Worst case: the contact enters at 00:00 of day 0, events come at once.
        worst: list[A.Step] = []

        def walk(seq: tuple[A.Step, ...] | list[A.Step], t: int, sent: list[A.Step]) -> list[tuple[int, list[A.Step]]]:
            paths = [(t, list(sent))]
            for step in seq:
                new_paths = []
                for t0, s0 in paths:
                    t1 = _advance(t0, step.timing)
                    a = step.action
                    if t0 == _NEVER:
                        new_paths.append((t0, s0))
                    elif isinstance(a, A.Dm):
                        new_paths.append((t1, s0 + [step] if t1 < 3 * 24 * 60 else s0))
                    elif isinstance(a, A.If):
                        new_paths += walk(a.then, t1, s0) + walk(a.otherwise or (), t1, s0)
                    elif isinstance(a, A.Split):
                        for arm in a.arms:
                            new_paths += walk(arm.steps, t1, s0)
                    elif isinstance(a, A.Wait):
                        new_paths += walk(a.then or (), t1, s0) + walk(a.otherwise or (), t1 + a.up_to.minutes, s0)
                    elif isinstance(a, A.ExitStep):
                        new_paths.append((_NEVER, s0))
                    else:
                        new_paths.append((t1, s0))
                # Keep the search small: per distinct dm count, the earliest time.
                best: dict[int, tuple[int, list[A.Step]]] = {}
                for t2, s2 in new_paths:
                    if len(s2) not in best or t2 < best[len(s2)][0]:
                        best[len(s2)] = (t2, s2)
                paths = list(best.values())
            return paths

        for _, sent in walk(steps, 0, []):
            if len(sent) > len(worst):
                worst = sent
        if len(worst) > 3:
            self.warn(
                "spam-dm",
                t(
                    "journey '{name}' can send {count} dm to one contact in its first 3 days",
                    name=name,
                    count=len(worst),
                ),
                worst[3].span,
                t("more than 3 in 3 days reads as spam (刷屏); space them out"),
            )

    def _check_crowded(self, node: A.Moments, moments: Doc) -> None:
        from playbook.compiler.schedules import occurrences

        # Two months that contain every weekday and every day of the month 1–31.
        start, end = dt.datetime(2027, 1, 1), dt.datetime(2027, 3, 1)
        per_day: dict[dt.date, int] = {}
        for rule in moments["rules"]:
            schedule = rule.get("schedule")
            if schedule is not None and not (schedule["kind"] == "cron" and cron_problem(schedule["expr"])):
                for when in occurrences(schedule, start, end):
                    per_day[when.date()] = per_day.get(when.date(), 0) + 1
        dated: dict[str, int] = {}
        for rule in moments["rules"]:
            if "at" in rule:
                dated[rule["at"][:10]] = dated.get(rule["at"][:10], 0) + 1
        most = max(per_day.values(), default=0)
        for day, n in dated.items():
            weekday = dt.date.fromisoformat(day)
            base = max((c for d, c in per_day.items() if d.weekday() == weekday.weekday()), default=0)
            most = max(most, base + n)
        if most > 3:
            self.warn(
                "moments-crowded",
                t("Moments calendar '{name}' posts up to {count} times on some days", name=node.name.value, count=most),
                node.name.span,
                t("more than 3 posts a day crowd friends' feeds; spread them out"),
            )


_NEVER = 10**9  # a path that has exited


def _advance(t: int, timing: A.Timing | None) -> int:
    """Minutes since 00:00 of the entry day after a timing clause (see the spam lint)."""
    if timing is None:
        return t
    if isinstance(timing, A.After):
        return t + timing.duration.minutes
    if isinstance(timing, A.AtTime):
        day, minute = divmod(t, 24 * 60)
        target = day * 24 * 60 + timing.clock.minutes
        return target if target > t else target + 24 * 60
    return max(t, timing.day * 24 * 60 + timing.clock.minutes)


def _walk(steps: Iterable[A.Step]) -> Iterator[A.Step]:
    for step in steps:
        yield step
        a = step.action
        if isinstance(a, A.If):
            yield from _walk(a.then)
            yield from _walk(a.otherwise or ())
        elif isinstance(a, A.Split):
            for arm in a.arms:
                yield from _walk(arm.steps)
        elif isinstance(a, A.Wait):
            yield from _walk(a.then or ())
            yield from _walk(a.otherwise or ())


def _is_standing(g: A.Group) -> bool:
    """A group without `opens` and `lasts` is a standing group (docs/language.md §7.2)."""
    return not any(isinstance(m, A.OpensOnce | A.OpensSeries | A.Lasts) for m in g.members)


def _times(times: tuple[A.Clock, ...]) -> list[str]:
    return sorted({str(t) for t in times})


def _lit(v: A.Literal) -> Doc:
    value = v.value
    if isinstance(value, dt.datetime):
        value = value.isoformat(timespec="minutes")
    elif isinstance(value, dt.date):
        value = value.isoformat()
    return _obj(kind=v.kind, value=value)  # type: ignore[arg-type]


def _when_label(when: A.Schedule | A.DateTimeLit) -> str:
    if isinstance(when, A.DateTimeLit):
        return "at " + when.value.strftime("%Y-%m-%d %H:%M")
    return schedule_text(when)


def schedule_text(s: A.Schedule) -> str:
    """A schedule as written in canonical form: `every mon, wed at 20:00`."""
    if isinstance(s, A.Cron):
        return f'cron "{s.expression.value}"'
    if isinstance(s, A.EveryInterval):
        window = f" between {s.between.start}-{s.between.end}" if s.between else ""
        return f"every {s.every.text or s.every.minutes}{window}"
    at = "at " + ", ".join(str(t) for t in s.times)
    if isinstance(s, A.EveryDay):
        return f"every day {at}"
    if isinstance(s, A.EveryWeekday):
        return f"every weekday {at}"
    if isinstance(s, A.EveryWeekend):
        return f"every weekend {at}"
    if isinstance(s, A.EveryMonth):
        return "every month on " + ", ".join(str(d) for d in s.days) + f" {at}"
    days = ", ".join(A.WEEKDAYS[i.first] + (f"-{A.WEEKDAYS[i.last]}" if i.last is not None else "") for i in s.days)
    return f"every {days} {at}"


def _timing_label(timing: A.Timing | None) -> str:
    if timing is None:
        return ""
    if isinstance(timing, A.After):
        return f"after {timing.duration.text or timing.duration.minutes}: "
    if isinstance(timing, A.AtTime):
        return f"at {timing.clock}: "
    return f"day {timing.day} at {timing.clock}: "


class _Graph:
    """Lowers a sequence of steps into nodes with explicit successors."""

    def __init__(self, compiler: _Compiler, *, events: bool, where: str, group: bool = False):
        self.c = compiler
        self.events = events
        self.where = where
        self.group = group
        self.nodes: dict[str, Doc] = {}
        self.count = 0

    def _id(self) -> str:
        self.count += 1
        return f"s{self.count}"

    def ordered(self) -> dict[str, Doc]:
        """Nodes by id number (branches are lowered before the step that holds them)."""
        return {k: self.nodes[k] for k in sorted(self.nodes, key=lambda k: int(k[1:]))}

    def lower(self, steps: tuple[A.Step, ...], follow: str | None) -> str | None:
        """Nodes for `steps`, the last continuing to `follow`; returns the first node id."""
        ids = [self._id() for _ in steps]
        self._check_order(steps)
        for i, step in enumerate(steps):
            nxt = ids[i + 1] if i + 1 < len(steps) else follow
            self.nodes[ids[i]] = self._node(ids[i], step, nxt)
        return ids[0] if ids else follow

    def _check_order(self, steps: tuple[A.Step, ...]) -> None:
        last_day = -1
        for i, step in enumerate(steps):
            if isinstance(step.action, A.ExitStep) and i + 1 < len(steps):
                self.c.warn(
                    "unreachable-step",
                    t("this step can never run: the step before it exits the journey"),
                    steps[i + 1].span,
                )
            if isinstance(step.timing, A.DayAt):
                if step.timing.day < last_day:
                    self.c.warn(
                        "day-backwards",
                        t(
                            "day {day} comes after day {previous}: it will run right after the previous step",
                            day=step.timing.day,
                            previous=last_day,
                        ),
                        step.timing.span,
                        t("time never goes backwards; reorder the steps or fix the day number"),
                    )
                last_day = max(last_day, step.timing.day)

    def _timing(self, t: A.Timing | None) -> Doc | None:
        if t is None:
            return None
        if isinstance(t, A.After):
            return _obj(kind="after", minutes=t.duration.minutes)
        if isinstance(t, A.AtTime):
            return _obj(kind="at", time=str(t.clock))
        return _obj(kind="day", day=t.day, time=str(t.clock))

    def _node(self, node_id: str, step: A.Step, nxt: str | None) -> Doc:
        a = step.action
        c = self.c
        label = _timing_label(step.timing)
        common = {"id": node_id, "timing": self._timing(step.timing)}
        allowed_in_group = isinstance(a, A.Post | A.Task)
        if self.group and not allowed_in_group:
            c.error("group-action", t("steps in a group can only post into the group or create a task"), a.span)
        if isinstance(a, A.Post) and not self.group:
            c.error(
                "post",
                t("'{keyword}' is for groups and Moments", keyword="post"),
                a.span,
                t("to message one contact, use: {example}", example="dm " + a.content.value),
            )
        if isinstance(a, A.Dm | A.Invite) and c.first_dm is None:
            c.first_dm = (c.file, a.span)
        if isinstance(a, A.Dm | A.Post):
            kind = "dm" if isinstance(a, A.Dm) else "post"
            content = c._content_ref(a.content, with_event=self.events)
            return _obj(kind=kind, label=f"{label}{kind} {content}", next=nxt, content=content, **common)
        if isinstance(a, A.Task):
            c._template(a.text)
            if not self.events:
                c._text_without_event(a.text)
            return _obj(kind="task", label=f'{label}task "{a.text.value}"', next=nxt, text=a.text.value, **common)
        if isinstance(a, A.TagAdd | A.TagRemove):
            kind = "tag_add" if isinstance(a, A.TagAdd) else "tag_remove"
            word = "add" if kind == "tag_add" else "remove"
            return _obj(kind=kind, label=f'{label}tag {word} "{a.tag.value}"', next=nxt, text=a.tag.value, **common)
        if isinstance(a, A.Invite):
            group = a.group.value
            c._known("group", a.group)
            return _obj(kind="invite", label=f"{label}invite {group}", next=nxt, group=group, **common)
        if isinstance(a, A.ExitStep):
            return _obj(kind="exit", label=f"{label}exit", next=None, **common)
        if isinstance(a, A.If):
            condition = c.expr(a.condition, events=self.events)
            then = self.lower(a.then, nxt)
            otherwise = self.lower(a.otherwise or (), nxt)
            return _obj(
                kind="if",
                label=f"{label}if {expr_text(condition)}",
                condition=condition,
                then=then,
                otherwise=otherwise,
                **common,
            )
        if isinstance(a, A.Split):
            total = sum(arm.weight for arm in a.arms)
            if abs(total - 100) > 1e-9:
                c.error(
                    "split-weights",
                    t("the arms of this split add up to {total}%, not 100%", total=_num(total)),
                    a.span,
                    t("make the percentages add up to 100"),
                )
            for arm in a.arms:
                if arm.weight <= 0:
                    c.error("split-weights", t("an arm needs a share above 0%"), arm.span)
            arms = [
                _obj(name=_arm_name(i), weight=float(arm.weight), next=self.lower(arm.steps, nxt))
                for i, arm in enumerate(a.arms)
            ]
            return _obj(kind="split", label=f"{label}split", arms=arms, **common)
        assert isinstance(a, A.Wait)
        event = c._event(a.event)
        where = c._where(a.where, True)
        then = self.lower(a.then or (), nxt)
        otherwise = self.lower(a.otherwise or (), nxt)
        return _obj(
            kind="wait",
            label=f"{label}wait for {event} up to {a.up_to.text or a.up_to.minutes}",
            event=event,
            where=where,
            up_to_minutes=a.up_to.minutes,
            then=then,
            otherwise=otherwise,
            **common,
        )


def _arm_name(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"A{i}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
