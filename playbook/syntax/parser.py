"""Source text → typed AST (`playbook.syntax.ast`).

The Lark LALR parser is built once per process (and its tables cached on disk), with
the AST transformer applied inline while parsing, so no intermediate parse tree is built.
Positions come from the tokens (which always carry line and column) rather than from
`propagate_positions`, which would cost a third of the parse time.

Values that lex but make no sense (25:00, 2026-02-30, 12h1d) are collected as problems
while parsing continues, so a file reports all of them at once. Syntax errors stop the
parser; the file is then re-parsed declaration by declaration to report one syntax error
per broken declaration instead of just the first.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError, did_you_mean, nearest
from playbook.i18n import N_, t
from playbook.syntax import ast as A
from playbook.syntax.source import FULL_WIDTH, STRAY_HINTS, normalize
from playbook.timetext import TimeTextError, parse_clock, parse_datetime

TOP_LEVEL_KEYWORDS = (
    "playbook", "timezone", "quiet", "limit", "segment", "content", "journey", "group",
    "moments", "rotate", "sla",
)  # fmt: skip

_UNIT_MINUTES = {"w": 7 * 24 * 60, "d": 24 * 60, "h": 60, "m": 1}
_DURATION_PART = re.compile(r"(\d+)([wdhm])")
_ESCAPE = re.compile(r"\\(.)", re.S)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
# Longer numbers are typos; Python's int() also refuses strings of more than 4300 digits.
_MAX_DIGITS = 15
# Deeper nesting (parentheses, not, if/split/wait blocks) is rejected so that nothing
# downstream (fmt, the compiler) recurses past Python's stack limit.
_MAX_NESTING = 50


def grammar_text() -> str:
    """The grammar shipped inside the package, or the repository copy when run from source.
    (A package on the file system is read directly: importlib.resources costs `check` ~10 ms.)"""
    package = Path(__file__).resolve().parents[1]
    for path in (package / "grammar" / "playbook.lark", package.parent / "grammar" / "playbook.lark"):
        if path.is_file():
            return path.read_text("utf-8")
    from importlib import resources  # a package inside a zip file

    return resources.files("playbook").joinpath("grammar/playbook.lark").read_text("utf-8")


class _Problem(Exception):
    """A syntax problem found by the transformer, with the token it concerns."""

    def __init__(self, message: str, token: Any, hint: str = ""):
        super().__init__(message)
        self.message, self.token, self.hint = message, token, hint


def _span(first: Any, last: Any = None) -> A.Span:
    """Span from the start of `first` to the end of `last`. Tokens and spans share the
    attribute names line/column/end_line/end_column, so either will do."""
    a = getattr(first, "span", first)
    b = a if last is None else getattr(last, "span", last)
    return A.Span(a.line, a.column, b.end_line, b.end_column)


def _tok_span(tok: Token) -> A.Span:
    return A.Span(tok.line, tok.column, tok.end_line, tok.end_column)


def dedent_block(raw: str) -> str:
    """The body of a \"\"\"…\"\"\" string: drop the first and last line when blank, remove the
    common leading indentation of the non-blank lines."""
    lines = raw.split("\n")
    if len(lines) > 1 and not lines[0].strip(" \t"):
        lines = lines[1:]
    if len(lines) > 1 and not lines[-1].strip(" \t"):
        lines = lines[:-1]
    indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip(" \t")]
    cut = min(indents) if indents else 0
    return "\n".join(ln[cut:] if ln.strip(" \t") else ln.lstrip(" \t") for ln in lines)


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds AST nodes while the LALR parser reduces (so no parse tree is built)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[_Problem] = []
        self.depths: dict[int, int] = {}  # id(node) -> nesting depth, for nodes that nest

    def reset(self) -> None:
        self.problems = []
        self.depths = {}

    def _problem(self, message: str, token: Any, hint: str = "") -> None:
        self.problems.append(_Problem(message, token, hint))

    def _nest(self, node: Any, children: Any, flat: Any = None) -> None:
        """Record how deep `node` nests; `flat` is a child that does not add a level (the left
        operand of a chain like `a or b or c`, which nests to the left)."""
        depth = max((self.depths.get(id(c), 0) + 1 for c in children), default=1)
        if flat is not None:
            depth = max(depth, self.depths.get(id(flat), 0))
        self.depths[id(node)] = depth
        if depth == _MAX_NESTING + 1:  # reported once, at the level where it goes too deep
            self._problem(
                t("this is nested more than {n} levels deep", n=_MAX_NESTING),
                node.span,
                t("split it into several segments or simpler steps"),
            )

    def _fits(self, tok: Token, digits: str) -> bool:
        if len(digits.split(".")[0].lstrip("0")) <= _MAX_DIGITS:
            return True
        shown = str(tok) if len(str(tok)) <= 20 else str(tok)[:20] + "…"
        self._problem(
            t("the number '{number}' is too large", number=shown),
            tok,
            t("numbers have at most {n} digits", n=_MAX_DIGITS),
        )
        return False

    # ---- leaves ----------------------------------------------------------------------
    def _text(self, tok: Token) -> A.Text:
        raw = str(tok)
        if tok.type == "MLSTRING":
            body = dedent_block(raw[3:-3])
        else:
            body = raw[1:-1]
        if "\\" in body:

            def unescape(m: re.Match[str]) -> str:
                ch = m.group(1)
                if ch in _ESCAPES:
                    return _ESCAPES[ch]
                self._problem(
                    t("unknown escape '\\{char}' in text", char=ch),
                    tok,
                    t('write \\\\ for a backslash, \\" for a quote, \\n for a new line'),
                )
                return ch

            body = _ESCAPE.sub(unescape, body)
        return A.Text(body, _tok_span(tok))

    def _name(self, tok: Token) -> A.Name:
        return A.Name(str(tok), _tok_span(tok))

    def _int(self, tok: Token, not_whole: str) -> int:
        """`tok` as an int; `not_whole` is the (N_-marked) message when it has a fraction."""
        digits = str(tok)
        if not self._fits(tok, digits):
            return 0
        if "." in digits:
            self._problem(t(not_whole), tok)
            return int(float(digits))
        return int(digits)

    def _number(self, tok: Token) -> int | float:
        digits = str(tok)
        if not self._fits(tok, digits):
            return 0
        return float(digits) if "." in digits else int(digits)

    def _duration(self, tok: Token) -> A.Duration:
        parts = _DURATION_PART.findall(str(tok))
        order = [list(_UNIT_MINUTES).index(unit) for _, unit in parts]
        if order != sorted(set(order)):
            self._problem(
                t("duration '{duration}' must list its units largest first, each once", duration=tok),
                tok,
                t("write it like 1d12h or 90m"),
            )
        if not all(self._fits(tok, n) for n, _ in parts):
            return A.Duration(1, str(tok), _tok_span(tok))
        minutes = sum(int(n) * _UNIT_MINUTES[unit] for n, unit in parts)
        if minutes == 0:
            self._problem(t("a duration must be longer than zero"), tok)
        return A.Duration(minutes, str(tok), _tok_span(tok))

    def _clock(self, tok: Token) -> A.Clock:
        try:
            hour, minute, _ = parse_clock(str(tok))  # the one reader of times (playbook/timetext.py)
        except TimeTextError:  # the TIME token has the shape: only its values can be wrong
            hour, minute = (int(x) for x in str(tok).split(":"))
        if hour > 23 or minute > 59:
            self._problem(
                t("'{time}' is not a time of day", time=tok), tok, t("expected a time between 00:00 and 23:59")
            )
            hour, minute = min(hour, 23), min(minute, 59)
        return A.Clock(hour, minute, _tok_span(tok))

    def _date(self, tok: Token) -> dt.date:
        try:
            return parse_datetime(str(tok)).date  # the one reader of dates (playbook/timetext.py)
        except TimeTextError:
            self._problem(
                t("'{date}' is not a date on the calendar", date=tok), tok, t("expected a date like 2026-12-10")
            )
            return dt.date(2000, 1, 1)

    def _datetime(self, date_tok: Token, time_tok: Token) -> A.DateTimeLit:
        day = self._date(date_tok)
        clock = self._clock(time_tok)
        return A.DateTimeLit(dt.datetime.combine(day, dt.time(clock.hour, clock.minute)), _span(date_tok, time_tok))

    def _weight(self, tok: Token) -> int | float:
        if not self._fits(tok, str(tok)[:-1]):
            return 0
        return self._number(Token("NUMBER", str(tok)[:-1]))

    # ---- file --------------------------------------------------------------------------
    def start(self, *items: A.Declaration) -> list[A.Declaration]:
        return list(items)

    def title(self, s: Token) -> A.Title:
        return A.Title(self._text(s), _tok_span(s))

    def timezone(self, s: Token) -> A.Timezone:
        return A.Timezone(self._text(s), _tok_span(s))

    def event_decl(self, name: Token) -> A.EventDecl:
        return A.EventDecl(self._name(name), _tok_span(name))

    def time_range(self, a: Token, _minus: Token, b: Token) -> A.TimeRange:
        return A.TimeRange(self._clock(a), self._clock(b), _span(a, b))

    def quiet(self, window: A.TimeRange) -> A.Quiet:
        return A.Quiet(window, window.span)

    def limit(self, channel: Token, count: Token, scope: Token, period: Token, action: Token | None = None) -> A.Limit:
        n = self._int(count, N_("a limit must be a whole number"))
        return A.Limit(
            str(channel), n, str(scope), str(period), str(action) if action else None, _span(channel, action or period)
        )

    def channel(self, tok: Token) -> Token:
        return tok

    scope = period = limit_action = part_key = channel

    # ---- expressions ---------------------------------------------------------------------
    def segment(self, name: Token, expr: A.Expr) -> A.Segment:
        return A.Segment(self._name(name), expr, _tok_span(name))

    def _bool_op(self, op: str, left: A.Expr, right: A.Expr) -> A.BoolOp:
        node = A.BoolOp(op, left, right, _span(left, right))
        if isinstance(left, A.BoolOp) and left.op == op:
            self._nest(node, [right], flat=left)
        else:
            self._nest(node, [left, right])
        return node

    def or_(self, left: A.Expr, right: A.Expr) -> A.BoolOp:
        return self._bool_op("or", left, right)

    def and_(self, left: A.Expr, right: A.Expr) -> A.BoolOp:
        return self._bool_op("and", left, right)

    def not_(self, operand: A.Expr) -> A.Not:
        node = A.Not(operand, operand.span)
        self._nest(node, [operand])
        return node

    def field(self, *names: Token) -> A.Field:
        return A.Field(tuple(str(n) for n in names), _span(names[0], names[-1]))

    def compare(self, fld: A.Field, op: Token, operand: Any) -> A.Compare:
        value = self._value(operand)
        return A.Compare(fld, str(op), value, _span(fld, value))

    def _value(self, v: Any) -> A.Literal | A.Field:
        if isinstance(v, (A.Literal, A.Field)):
            return v
        # A bare string token (the ?string rule inlines to the token itself).
        text = self._text(v)
        return A.Literal("text", text.value, text.span)

    def in_list(self, fld: A.Field, values: tuple[A.Literal, ...]) -> A.InList:
        return A.InList(fld, values, False, fld.span)

    def not_in_list(self, fld: A.Field, values: tuple[A.Literal, ...]) -> A.InList:
        return A.InList(fld, values, True, fld.span)

    def value_list(self, *values: Any) -> tuple[A.Literal, ...]:
        out: list[A.Literal] = []
        for v in values:
            if v is None:  # `[]`
                continue
            lit = self._value(v)
            assert isinstance(lit, A.Literal)
            out.append(lit)
        return tuple(out)

    def within(self, fld: A.Field, d: Token) -> A.Within:
        return A.Within(fld, self._duration(d), fld.span)

    def is_set(self, fld: A.Field) -> A.IsSet:
        return A.IsSet(fld, False, fld.span)

    def is_not_set(self, fld: A.Field) -> A.IsSet:
        return A.IsSet(fld, True, fld.span)

    def has_tag(self, kw: Token, s: Token) -> A.HasTag:
        return A.HasTag(self._text(s), _span(kw, s))

    def in_segment(self, kw: Token, name: Token) -> A.InSegment:
        return A.InSegment(self._name(name), _tok_span(name))

    def in_group(self, kw: Token, name: Token) -> A.InGroup:
        return A.InGroup(self._name(name), _tok_span(name))

    def signed_number(self, minus: Token | None, num: Token) -> A.Literal:
        n = self._number(num)
        return A.Literal("number", -n if minus else n, _span(minus or num, num))

    def date(self, tok: Token) -> A.Literal:
        return A.Literal("date", self._date(tok), _tok_span(tok))

    def datetime(self, d: Token, tm: Token) -> A.Literal:
        lit = self._datetime(d, tm)
        return A.Literal("datetime", lit.value, lit.span)

    def true(self, tok: Token) -> A.Literal:
        return A.Literal("bool", True, _tok_span(tok))

    def false(self, tok: Token) -> A.Literal:
        return A.Literal("bool", False, _tok_span(tok))

    # ---- content -------------------------------------------------------------------------
    def content_short(self, name: Token, s: Token) -> A.Content:
        text = self._text(s)
        return A.Content(self._name(name), (A.ContentPart("text", text, text.span),), _tok_span(name))

    def content(self, name: Token, *parts: A.ContentPart) -> A.Content:
        return A.Content(self._name(name), tuple(parts), _tok_span(name))

    def content_part(self, key: Token, s: Token) -> A.ContentPart:
        return A.ContentPart(str(key), self._text(s), _span(key, s))

    # ---- journeys --------------------------------------------------------------------------
    def journey(self, name: Token, *members: Any) -> A.Journey:
        return A.Journey(self._name(name), tuple(members), _tok_span(name))

    def where(self, expr: A.Expr) -> A.Where:
        return A.Where(expr, expr.span)

    def entry_on(self, kw: Token, event: Token, where: A.Where | None = None) -> A.EntryOn:
        return A.EntryOn(self._name(event), where.expr if where else None, _span(kw, event))

    def entry_enter(self, kw: Token, seg: Token) -> A.EntryEnter:
        return A.EntryEnter(self._name(seg), _span(kw, seg))

    def entry_schedule(self, schedule: A.Schedule, seg: Token) -> A.EntrySchedule:
        return A.EntrySchedule(schedule, self._name(seg), _span(schedule, seg))

    def entry_at(self, kw: Token, at: A.DateTimeLit, seg: Token) -> A.EntryAt:
        return A.EntryAt(at, self._name(seg), _span(kw, seg))

    def exit_on(self, kw: Token, event: Token, where: A.Where | None = None) -> A.ExitOn:
        return A.ExitOn(self._name(event), where.expr if where else None, _span(kw, event))

    def exit_when(self, kw: Token, expr: A.Expr) -> A.ExitWhen:
        return A.ExitWhen(expr, _tok_span(kw))

    def reenter(self, kw: Token, d: Token) -> A.Reenter:
        return A.Reenter(self._duration(d), _span(kw, d))

    def goal(self, kw: Token, event: Token, *rest: Any) -> A.Goal:
        where = rest[0].expr if len(rest) == 2 else None
        return A.Goal(self._name(event), where, self._duration(rest[-1]), _span(kw, event))

    def priority(self, kw: Token, value: A.Literal) -> A.Priority:
        return A.Priority(value.value, _span(kw, value))  # type: ignore[arg-type]

    def step(self, *parts: Any) -> A.Step:
        timing = parts[0] if len(parts) == 2 else None
        action = parts[-1]
        node = A.Step(timing, action, _span(timing or action, action))
        self.depths[id(node)] = self.depths.get(id(action), 0)
        return node

    def after(self, d: Token) -> A.After:
        dur = self._duration(d)
        return A.After(dur, dur.span)

    def at_time(self, kw: Token, tm: Token) -> A.AtTime:
        return A.AtTime(self._clock(tm), _span(kw, tm))

    def day_at(self, kw: Token, n: Token, tm: Token) -> A.DayAt:
        return A.DayAt(self._int(n, N_("a day number must be a whole number")), self._clock(tm), _span(kw, tm))

    def dm(self, kw: Token, name: Token) -> A.Dm:
        return A.Dm(self._name(name), _span(kw, name))

    def post(self, kw: Token, name: Token) -> A.Post:
        return A.Post(self._name(name), _span(kw, name))

    def task(self, kw: Token, s: Token) -> A.Task:
        return A.Task(self._text(s), _span(kw, s))

    def tag_add(self, kw: Token, s: Token) -> A.TagAdd:
        return A.TagAdd(self._text(s), _span(kw, s))

    def tag_remove(self, kw: Token, s: Token) -> A.TagRemove:
        return A.TagRemove(self._text(s), _span(kw, s))

    def invite(self, kw: Token, name: Token) -> A.Invite:
        return A.Invite(self._name(name), _span(kw, name))

    def exit_step(self, kw: Token) -> A.ExitStep:
        return A.ExitStep(_tok_span(kw))

    def block(self, *steps: A.Step) -> tuple[A.Step, ...]:
        return steps

    def if_step(self, kw: Token, cond: A.Expr, then: tuple[A.Step, ...], _else: Token | None, other: Any) -> A.If:
        if isinstance(other, A.If):
            other = (self.step(other),)
        node = A.If(cond, then, other, _tok_span(kw))
        self._nest(node, [cond, *then, *(other or ())])
        return node

    def split(self, kw: Token, *arms: A.Arm) -> A.Split:
        node = A.Split(tuple(arms), _tok_span(kw))
        self._nest(node, arms)
        return node

    def arm(self, pct: Token, *body: Any) -> A.Arm:
        steps = body[0] if len(body) == 1 and isinstance(body[0], tuple) else tuple(body)
        node = A.Arm(self._weight(pct), steps, _tok_span(pct))
        self.depths[id(node)] = max((self.depths.get(id(s), 0) for s in steps), default=0)
        return node

    def wait(self, kw: Token, event: Token, *rest: Any) -> A.Wait:
        where = rest[0].expr if isinstance(rest[0], A.Where) else None
        if isinstance(rest[0], A.Where):
            rest = rest[1:]
        duration, then, _else, other = rest
        node = A.Wait(self._name(event), where, self._duration(duration), then, other, _tok_span(kw))
        self._nest(node, [*([where] if where else []), *(then or ()), *(other or ())])
        return node

    # ---- groups ----------------------------------------------------------------------------
    def group(self, name: Token, *members: Any) -> A.Group:
        return A.Group(self._name(name), tuple(members), _tok_span(name))

    def group_title(self, kw: Token, s: Token) -> A.GroupTitle:
        return A.GroupTitle(self._text(s), _span(kw, s))

    def group_members(self, kw: Token, expr: A.Expr) -> A.GroupMembers:
        return A.GroupMembers(expr, _tok_span(kw))

    def opens_once(self, kw: Token, at: A.DateTimeLit) -> A.OpensOnce:
        return A.OpensOnce(at, _span(kw, at))

    def opens_series(self, kw: Token, schedule: A.Schedule) -> A.OpensSeries:
        return A.OpensSeries(schedule, _span(kw, schedule))

    def group_lasts(self, kw: Token, d: Token) -> A.Lasts:
        return A.Lasts(self._duration(d), _span(kw, d))

    def group_size(self, kw: Token, n: Token) -> A.Size:
        return A.Size(self._int(n, N_("a group size must be a whole number")), _span(kw, n))

    def group_invite(self, kw: Token, name: Token) -> A.GroupInvite:
        return A.GroupInvite(self._name(name), _span(kw, name))

    def group_step(self, timing: A.Timing, action: A.Action) -> A.Step:
        return A.Step(timing, action, _span(timing, action))

    def group_closing(self, kw: Token, action: A.Action) -> A.Closing:
        return A.Closing(action, _span(kw, action))

    # standing groups
    def group_admit(self, kw: Token, expr: A.Expr) -> A.Admit:
        return A.Admit(expr, _tok_span(kw))

    def group_owner(self, kw: Token, s: Token) -> A.Owner:
        return A.Owner(self._text(s), _span(kw, s))

    def group_every(self, schedule: A.Schedule, kw: Token, name: Token) -> A.GroupEvery:
        return A.GroupEvery(schedule, self._name(name), _span(schedule, name))

    def group_lapse(self, kw: Token, action: A.Action) -> A.Lapse:
        return A.Lapse(action, _span(kw, action))

    # ---- Moments -------------------------------------------------------------------------
    def moments(self, name: Token, *rules: A.MomentRule) -> A.Moments:
        return A.Moments(self._name(name), tuple(rules), _tok_span(name))

    def moment_rule(self, schedule: A.Schedule, kw: Token, name: Token, visible: A.Where | None = None) -> A.MomentRule:
        return A.MomentRule(schedule, self._name(name), visible.expr if visible else None, _span(schedule, name))

    def moment_once(
        self, at_kw: Token, at: A.DateTimeLit, kw: Token, name: Token, visible: A.Where | None = None
    ) -> A.MomentRule:
        return A.MomentRule(at, self._name(name), visible.expr if visible else None, _span(at_kw, name))

    def visible(self, expr: A.Expr) -> A.Where:
        return A.Where(expr, expr.span)

    # ---- rotations -------------------------------------------------------------------------
    def rotate(self, name: Token, *members: A.RotateMember) -> A.Rotate:
        return A.Rotate(self._name(name), tuple(members), _tok_span(name))

    def rotate_each(self, kw: Token, d: Token) -> A.RotateEach:
        return A.RotateEach(self._duration(d), _span(kw, d))

    def rotate_order(self, kw: Token, name: Token, direction: Token | None) -> A.RotateOrder:
        fld = A.Field(tuple(str(name).split(".")), _tok_span(name))
        return A.RotateOrder(fld, direction == "desc", _span(kw, direction or name))

    def rotate_at(self, kw: Token, tm: Token, days: tuple[A.WeekdayItem, ...] | None) -> A.RotateAt:
        return A.RotateAt(self._clock(tm), days, _span(kw, tm))

    def rotate_task(self, kw: Token, s: Token) -> A.RotateTask:
        return A.RotateTask(self._text(s), _span(kw, s))

    def rotate_members(self, kw: Token, expr: A.Expr) -> A.RotateMembers:
        return A.RotateMembers(expr, _tok_span(kw))

    # ---- SLAs --------------------------------------------------------------------------------
    def sla(
        self, name: Token, trigger: Token, answer: Token, d: Token, _during: Token | None, window: A.TimeRange | None,
        *members: A.SlaMember,
    ) -> A.Sla:  # fmt: skip
        return A.Sla(
            self._name(name), self._name(trigger), self._name(answer), self._duration(d), window, members,
            _tok_span(name),
        )

    def sla_remind(self, kw: Token, d: Token) -> A.SlaRemind:
        return A.SlaRemind(self._duration(d), _span(kw, d))

    def sla_escalate(self, kw: Token, target: Token, d: Token) -> A.SlaEscalate:
        who = self._name(target) if target.type == "NAME" else self._text(target)
        return A.SlaEscalate(who, self._duration(d), _span(kw, d))

    # ---- schedules ---------------------------------------------------------------------------
    def at_times(self, *times: Token) -> tuple[A.Clock, ...]:
        return tuple(self._clock(tm) for tm in times)

    def every_day(self, kw: Token, times: tuple[A.Clock, ...]) -> A.EveryDay:
        return A.EveryDay(times, _span(kw, times[-1]))

    def every_weekday(self, kw: Token, times: tuple[A.Clock, ...]) -> A.EveryWeekday:
        return A.EveryWeekday(times, _span(kw, times[-1]))

    def every_weekend(self, kw: Token, times: tuple[A.Clock, ...]) -> A.EveryWeekend:
        return A.EveryWeekend(times, _span(kw, times[-1]))

    def every_weekdays(self, kw: Token, days: tuple[A.WeekdayItem, ...], times: tuple[A.Clock, ...]) -> A.EveryWeekdays:
        return A.EveryWeekdays(days, times, _span(kw, times[-1]))

    def every_month(self, kw: Token, *rest: Any) -> A.EveryMonth:
        *days, times = rest
        numbers = []
        for d in days:
            n = self._int(d, N_("a day of the month must be a whole number"))
            if not 1 <= n <= 31:
                self._problem(t("'{day}' is not a day of the month", day=d), d, t("expected a number from 1 to 31"))
            numbers.append(n)
        return A.EveryMonth(tuple(numbers), times, _span(kw, times[-1]))

    def every_interval(self, kw: Token, d: Token, window: A.TimeRange | None) -> A.EveryInterval:
        return A.EveryInterval(self._duration(d), window, _span(kw, window or d))

    def cron(self, kw: Token, s: Token) -> A.Cron:
        return A.Cron(self._text(s), _span(kw, s))

    def weekday_list(self, *items: A.WeekdayItem) -> tuple[A.WeekdayItem, ...]:
        return items

    def weekday_item(self, first: Token, _minus: Token | None = None, last: Token | None = None) -> A.WeekdayItem:
        a = A.WEEKDAYS.index(str(first))
        b = A.WEEKDAYS.index(str(last)) if last is not None else None
        return A.WeekdayItem(a, b, _span(first, last or first))

    def datetime_lit(self, d: Token, tm: Token) -> A.DateTimeLit:
        return self._datetime(d, tm)


def accelerated_plugins() -> dict[str, Any] | None:
    """lark-cython's LALR loop (the `fast` extra), when it is installed and not turned off
    with PLAYBOOK_PARSER=lark; None → Lark's own pure-Python loop. Both build the same ASTs
    (tests/test_parser_backends.py); lark-rust was measured too but counts columns in UTF-8
    bytes, so its spans differ on Chinese text."""
    if os.environ.get("PLAYBOOK_PARSER", "") == "lark":
        return None
    try:
        import lark_cython
    except ImportError:
        return None
    return dict(lark_cython.plugins)


class _Parser:
    """One Lark parser and its transformer, plus the comments seen by the lexer.

    `fast` parses (lark-cython's loop when installed); `lark`, Lark's own loop, is built on
    first use for what needs Lark's Python objects: syntax-error reports (the expected
    tokens of an UnexpectedToken) and the language server's interactive parsing."""

    def __init__(self, plugins: dict[str, Any] | None = None) -> None:
        self.comments: list[Token] = []
        self.transformer = _ToAst()
        self.fast = self._build(plugins)
        self._pure = None if plugins else self.fast
        self.terminals = {term.name: term for term in self.fast.terminals}

    def _build(self, plugins: dict[str, Any] | None) -> Lark:
        return Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            transformer=self.transformer,
            cache=True,
            maybe_placeholders=True,
            lexer_callbacks={"COMMENT": self.comments.append},
            **({"_plugins": plugins} if plugins else {}),
        )

    @property
    def lark(self) -> Lark:
        if self._pure is None:
            self._pure = self._build(None)
        return self._pure

    def run(self, text: str, *, pure: bool = False) -> list[A.Declaration]:
        self.comments.clear()
        self.transformer.reset()
        return (self.lark if pure else self.fast).parse(text)  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _parser() -> _Parser:
    return _Parser(accelerated_plugins())


@lru_cache(maxsize=1)
def keywords() -> frozenset[str]:
    """The language's reserved words, read off the grammar's terminals so the two never disagree."""
    words: set[str] = set()
    for terminal in _parser().terminals.values():
        pattern = terminal.pattern
        if pattern.type == "str" and str(pattern.value).isalpha():
            words.add(str(pattern.value))
        elif pattern.type == "re" and terminal.name in ("WEEKDAY", "ORDER_DIRECTION"):
            words.update(w.strip("()?:") for w in str(pattern.value).split("|"))
    return frozenset(words)


def parse(text: str, path: str = "<input>") -> A.File:
    """Parse one file's text into an AST. Raises PlaybookError with every problem found."""
    # A lone "\r" ends a line for the lexer (normalize), so it must for error lines too.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    source = normalize(text)
    p = _parser()
    try:
        decls = p.run(source)
    except (UnexpectedInput, VisitError, _Problem):
        raise PlaybookError(_collect_syntax_errors(source, text, path)) from None
    problems = p.transformer.problems
    if problems:
        raise PlaybookError([_problem_diagnostic(pr, text, path) for pr in problems])
    for d in decls:
        d.file = path
    lines = source.split("\n")
    comments = [
        A.Comment(tok.line, tok.column, str(tok), bool(lines[tok.line - 1][: tok.column - 1].strip()))
        for tok in p.comments
    ]
    return A.File(path, decls, comments, text)


def parse_file(path: str | Path) -> A.File:
    from playbook.syntax.source import read_source

    return parse(read_source(path), str(path))


# ---- syntax errors ----------------------------------------------------------------------

_TOP_LEVEL_START = re.compile(r"^(?:" + "|".join(TOP_LEVEL_KEYWORDS) + r")\b")


def _chunks(source: str) -> list[tuple[int, str]]:
    """Split the file at lines that start a top-level declaration in column 1."""
    out: list[tuple[int, list[str]]] = []
    for number, line in enumerate(source.split("\n"), start=1):
        if not out or _TOP_LEVEL_START.match(line):
            out.append((number, [line]))
        else:
            out[-1][1].append(line)
    return [(start, "\n".join(lines)) for start, lines in out]


def _collect_syntax_errors(source: str, original: str, path: str) -> list[Diagnostic]:
    """Parse declaration by declaration so each broken declaration reports its own error."""
    p = _parser()
    found: list[Diagnostic] = []
    chunks = _chunks(source)
    for index, (start, chunk) in enumerate(chunks):
        try:
            p.run("\n" * (start - 1) + chunk, pure=True)
        except (UnexpectedInput, VisitError, _Problem) as exc:
            found.append(
                _exception_diagnostic(
                    exc, original, path, chunk_end=_end_of(start, chunk), last=index == len(chunks) - 1
                )
            )
            continue
        found.extend(_problem_diagnostic(pr, original, path) for pr in p.transformer.problems)
    if not found:  # the chunks parse on their own but not together: report the whole-file error
        try:
            p.run(source, pure=True)
        except (UnexpectedInput, VisitError, _Problem) as exc:
            found.append(_exception_diagnostic(exc, original, path, chunk_end=_end_of(1, source), last=True))
    return found


def _end_of(start: int, chunk: str) -> tuple[int, int]:
    """(line, column) just after the last non-blank character of a chunk."""
    lines = chunk.rstrip().split("\n")
    return start + len(lines) - 1, len(lines[-1]) + 1


def _line(original: str, number: int) -> str:
    lines = original.split("\n")
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _problem_diagnostic(pr: _Problem, original: str, path: str) -> Diagnostic:
    tok = pr.token
    return Diagnostic(
        ERROR, "syntax", pr.message, path, tok.line, tok.column, tok.end_column, pr.hint, _line(original, tok.line)
    )


def _exception_diagnostic(
    exc: BaseException, original: str, path: str, chunk_end: tuple[int, int], last: bool
) -> Diagnostic:
    if isinstance(exc, VisitError):
        exc = exc.orig_exc
    if isinstance(exc, _Problem):
        return _problem_diagnostic(exc, original, path)
    assert isinstance(exc, UnexpectedInput)
    names = set(getattr(exc, "expected", None) or getattr(exc, "allowed", set()) or set())
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        names = _accepted(exc, names)
    expected = _describe_expected(names)
    if isinstance(exc, UnexpectedCharacters):
        line, column = exc.line, exc.column
        unit = _word_unit(_line(original, line), column)
        if unit is not None:
            return unit.diagnostic(path, line, _line(original, line))
        value = _bad_value(_line(original, line), column, set(getattr(exc, "allowed", None) or ()), expected)
        if value is not None:
            return value.diagnostic(path, line, _line(original, line))
        ch = original.split("\n")[line - 1][column - 1] if line else ""
        message, hint = _unexpected_char(ch, expected)
        return Diagnostic(ERROR, "syntax", message, path, line, column, column + 1, hint, _line(original, line))
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        line, column = chunk_end
        expected_names = getattr(exc, "expected", None) or set()
        end = Token("$END", "", line=line, column=column, end_line=line, end_column=column)
        special = _condition_error(end, set(expected_names), original, path)  # `segment s = 未购` at the end
        if special is not None:
            return special
        hint = ""
        if "RBRACE" in expected_names:
            if last:
                message = t("the file ends inside a block: a '}}' is missing")
            else:
                message = t("this declaration ends inside a block: a '}}' is missing")
            hint = t("close every '{{' with a '}}'")
        elif expected:
            if last:
                message = t("the file ends too early: expected {expected}", expected=expected)
            else:
                message = t("this declaration ends too early: expected {expected}", expected=expected)
        else:
            message = t("the file ends too early") if last else t("this declaration ends too early")
        return Diagnostic(ERROR, "syntax", message, path, line, column, column + 1, hint, _line(original, line))
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    special = _condition_error(tok, names, original, path) or _top_level_error(tok, names, original, path)
    if special is not None:
        return special
    found_text = str(tok)
    original_text = _line(original, tok.line)[tok.column - 1 : tok.end_column - 1] if tok.line else found_text
    if original_text != found_text and original_text and original_text[0] in FULL_WIDTH:
        message = t(
            "full-width '{text}' (read as '{read}') does not fit here: expected {expected}",
            text=original_text,
            read=found_text,
            expected=expected,
        )
    else:
        message = t("expected {expected}, found {found}", expected=expected, found=_describe_token(tok))
    hint = _keyword_hint(tok, names) or _fix_hint(tok, names)
    return Diagnostic(ERROR, "syntax", message, path, tok.line, tok.column, tok.end_column, hint,
                      _line(original, tok.line))  # fmt: skip


def _accepted(exc: UnexpectedToken, fallback: set[str]) -> set[str]:
    """The terminals that could really come next. After a text or a name the LALR tables
    share one state among many rules, so `exc.expected` lists everything that may follow
    any of them (a declaration, a step, 'and' …); trying each terminal on a copy of the
    parser (Lark's `accepts`) leaves only those that fit here."""
    try:
        accepted = set(exc.interactive_parser.accepts())
    except Exception:  # noqa: BLE001 — a callback objecting to a trial token: keep the tables' answer
        return fallback
    return accepted or fallback


def _unexpected_char(ch: str, expected: str) -> tuple[str, str]:
    """Message and hint for a character the lexer cannot start a token with."""
    expected_hint = t("expected {expected}", expected=expected) if expected else ""
    if ch in ('"', "“"):
        return t("this text has no closing quote"), t('close it on the same line, or use """…""" for several lines')
    if ch in STRAY_HINTS:
        return t("unexpected '{char}'", char=ch), t(STRAY_HINTS[ch])
    message = t("unexpected character '{char}'", char=ch)
    if ch and ord(ch) > 0x7F and not ch.isalnum():
        twin = {"：": ":", "，": ","}.get(ch, "")
        return message, (t("use '{char}'", char=twin) if twin else expected_hint)
    return message, expected_hint


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return t("the end of the file")
    if tok.type in ("STRING", "MLSTRING", "CNSTRING"):
        return t("text in quotes")
    return f"'{tok}'"


# What the terminals and groups of terminals are called in "expected …" (N_: translated when shown,
# so the module-level tables never hold one language).
_WORDS = {
    "NAME": N_("a name"),
    "STRING": N_("text in quotes"),
    "MLSTRING": N_("text in quotes"),
    "CNSTRING": N_("text in quotes"),
    "NUMBER": N_("a number"),
    "DURATION": N_("a duration like 30m, 2h or 7d"),
    "TIME": N_("a time like 10:00"),
    "DATE": N_("a date like 2026-12-10"),
    "PERCENT": N_("a percentage like 50%"),
    "WEEKDAY": N_("a weekday (mon … sun)"),
    "COMPARE": N_("a comparison (==, !=, <, <=, >, >=)"),
    "ORDER_DIRECTION": N_("'asc' or 'desc'"),
    "$END": N_("the end of the file"),
}

_GROUPS = [
    (
        {
            "PLAYBOOK",
            "TIMEZONE",
            "QUIET",
            "LIMIT",
            "SEGMENT",
            "CONTENT",
            "JOURNEY",
            "GROUP",
            "MOMENTS",
            "ROTATE",
            "SLA",
        },
        N_("a declaration (segment, content, journey, group, moments, rotate, sla) or a setting"),
    ),
    (
        {"DM", "TASK", "TAG", "INVITE", "EXIT", "IF", "SPLIT", "WAIT", "POST"},
        N_("a step (dm, task, tag, invite, exit, if, split, wait)"),
    ),
    ({"STRING", "MLSTRING", "CNSTRING"}, N_("text in quotes")),
]


def _describe_expected(names: set[str]) -> str:
    """'a, b or c' (Chinese: 'a、b 或 c') for the terminals the parser would have accepted."""
    names = set(names)
    parts: list[str] = []
    for members, words in _GROUPS:
        if len(names & members) >= 3 or (members <= names):
            names -= members
            parts.append(t(words))
    terminals = _parser().terminals
    for name in sorted(names):
        if name in _WORDS:
            words = t(_WORDS[name])
        elif name in terminals and terminals[name].pattern.type == "str":
            words = f"'{terminals[name].pattern.value}'"
        else:
            words = name.lower()
        if words not in parts:
            parts.append(words)
    # Keep the message short: the most specific few (never more than 5 alternatives).
    if len(parts) > _MAX_ALTERNATIVES:
        parts = parts[: _MAX_ALTERNATIVES - 1] + ["…"]
    if len(parts) <= 1:
        return "".join(parts)
    listed = parts[0]
    for part in parts[1:-1]:
        listed = t("{items}, {item}", items=listed, item=part)
    return t("{items} or {last}", items=listed, last=parts[-1])


_PUNCTUATION = {"COLON": ":", "EQUAL": "=", "LBRACE": "{", "RBRACE": "}", "RPAR": ")", "RSQB": "]", "COMMA": ","}


def _fix_hint(tok: Token, expected: set[str]) -> str:
    """The fix when only one thing fits: the missing ':' or '=', or the quotes a text needs."""
    if len(expected) == 1 and (char := _PUNCTUATION.get(next(iter(expected)))):
        return t("add '{char}' before this", char=char) if str(tok) != char else ""
    if tok.type == "NAME" and expected <= {"STRING", "MLSTRING", "CNSTRING"}:
        return t("put the text in quotes: {text}", text=f'"{tok}"')
    return ""


def _keyword_hint(tok: Token, expected: set[str]) -> str:
    """'did you mean 'within'?' when the token is a misspelled keyword."""
    terminals = _parser().terminals
    words = [
        terminals[n].pattern.value
        for n in expected
        if n in terminals and terminals[n].pattern.type == "str" and str(terminals[n].pattern.value).isalpha()
    ]
    if tok.type != "NAME" or not words:
        return ""
    return did_you_mean(str(tok), words)


# ---- errors explained in the operator's words --------------------------------------------

_MAX_ALTERNATIVES = 5
# Units people write after a number, in Chinese and English → the unit the language uses.
_UNIT_WORDS = {
    "天": "d", "日": "d", "d": "d", "day": "d", "days": "d",
    "小时": "h", "个小时": "h", "时": "h", "钟头": "h", "个钟头": "h", "h": "h", "hr": "h", "hrs": "h",
    "hour": "h", "hours": "h",
    "分钟": "m", "分": "m", "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "周": "w", "星期": "w", "个星期": "w", "礼拜": "w", "个礼拜": "w", "w": "w", "wk": "w", "week": "w",
    "weeks": "w",
}  # fmt: skip
_NUMBER_WORD = re.compile(r"(\d+)\s*([^\W\d_]+)")
_IDENT = re.compile(r"[^\W\d]\w*$")


class _Explained:
    """A syntax error with its own message, hint and span (columns are 1-based)."""

    def __init__(self, message: str, hint: str, column: int, end_column: int) -> None:
        self.message, self.hint, self.column, self.end_column = message, hint, column, end_column

    def diagnostic(self, path: str, line: int, source_line: str) -> Diagnostic:
        return Diagnostic(ERROR, "syntax", self.message, path, line, self.column, self.end_column, self.hint,
                          source_line)  # fmt: skip


def _word_unit(line_text: str, column: int) -> _Explained | None:
    """`7天`, `30分钟`, `2 hours`: a number followed by a unit word. The caret goes under the
    word, and the hint is the duration as the language writes it (`7d`)."""
    m = _NUMBER_WORD.match(normalize(line_text), column - 1)
    if m is None:
        return None
    word = m.group(2)
    # The longest known unit at the start of the word (`7天后` is `7天` then `后`).
    # The longest known unit at the start of the word: a Chinese unit may run on into the
    # next word (`7天后`); an English one must be the whole word (`7days`, not `7dbetween`).
    unit_word = next(
        (w for w in sorted(_UNIT_WORDS, key=len, reverse=True)
         if word.lower() == w or (not w.isascii() and word.startswith(w))),
        None,
    )  # fmt: skip
    if unit_word is None or unit_word in ("w", "d", "h", "m"):
        return None
    fixed = f"{int(m.group(1))}{_UNIT_WORDS[unit_word]}"
    start = m.start(2) + 1
    return _Explained(
        t("'{word}' is not a unit of time here: write {fixed}", word=line_text[m.start(2) : m.start(2) + len(unit_word)],
          fixed=fixed),
        t("durations are written with w, d, h or m: {fixed}", fixed=fixed),
        start,
        start + len(unit_word),
    )  # fmt: skip


_VALUE_RUN = re.compile(r"\d[\w:.\-%]*")
_VALUE_KINDS = (
    ("TIME", N_("'{text}' is not a time: write it like 10:00")),
    ("DATE", N_("'{text}' is not a date: write it like 2026-12-10")),
    ("DURATION", N_("'{text}' is not a duration: write it like 30m, 2h or 7d")),
    ("NUMBER", N_("'{text}' is not a number")),
)


def _bad_value(line_text: str, column: int, allowed: set[str], expected: str) -> _Explained | None:
    """`at 1919:30`, `quiet 22s:30-07:30`, `>= 1s`: a value the lexer cannot read, marked
    whole (not just its first digit) and named by what was expected there."""
    m = _VALUE_RUN.match(normalize(line_text), column - 1)
    if m is None:
        return None
    text = m.group(0).rstrip(":.-")  # a timing's ':' or a sentence's '.' is not part of it
    for kind, template in _VALUE_KINDS:
        if kind in allowed:
            message = t(template, text=line_text[m.start() : m.start() + len(text)])
            break
    else:
        message = t("'{text}' does not fit here", text=line_text[m.start() : m.start() + len(text)])
    hint = t("expected {expected}", expected=expected) if expected else ""
    return _Explained(message, hint, column, column + len(text))


def _top_level_error(tok: Token, expected: set[str], original: str, path: str) -> Diagnostic | None:
    """`  text "…"` or `  dm 欢迎` where only a declaration may start: a member of a block
    found outside it (most often a '}' above closed the block too early)."""
    if not tok.line or "JOURNEY" not in expected or "DM" in expected:
        return None
    word = str(tok)
    starts_line = not _line(original, tok.line)[: tok.column - 1].strip()
    if not starts_line or word in TOP_LEVEL_KEYWORDS or word not in keywords():
        return None
    return Diagnostic(ERROR, "syntax", t("'{word}' belongs inside a block, not between declarations", word=word),
                      path, tok.line, tok.column, tok.end_column,
                      t("is a '}}' above closing the block too early, or its '{{' missing?"),
                      _line(original, tok.line))  # fmt: skip


def _previous_word(text: str, offset: int) -> tuple[int, str]:
    """The start and text of the word (or single character) before `offset`, skipping
    whitespace and comments; (-1, "") at the start."""
    i = offset - 1
    while i >= 0:
        if text[i] in " \t\f\n":
            i -= 1
            continue
        line_start = text.rfind("\n", 0, i) + 1
        hash_at = _comment_start(text[line_start : i + 1])
        if hash_at >= 0:
            i = line_start + hash_at - 1
            continue
        break
    if i < 0:
        return -1, ""
    end = i + 1
    if text[i].isalnum() or text[i] == "_":
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
            i -= 1
    return i, text[i:end]


def _comment_start(line: str) -> int:
    """Where a '#' comment starts in `line` (outside quotes), or -1."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == "\\":
                continue
            if ch == quote or (quote == "“" and ch == "”"):
                quote = ""
        elif ch in ('"', "“"):
            quote = ch
        elif ch == "#":
            return k
    return -1


def _condition_error(tok: Token, expected: set[str], original: str, path: str) -> Diagnostic | None:
    """A field where a whole condition belongs, in the operator's words:

    * `visible to 未购` (a bare name: a segment test is `in 未购`), reported at the name;
    * `orders ： 2` / `orders = 2` (no comparison sign), reported at the ':' or '='."""
    if not tok.line:
        return None
    in_expression = not expected & {"DM", "TASK", "SEGMENT", "JOURNEY"}  # not where a step or declaration may start
    if (
        tok.type in ("STRING", "CNSTRING", "MLSTRING")
        and in_expression
        and ("TAG" in expected or {"LPAR", "NAME"} <= expected)
    ):
        # `segment 高意向 = "问过价格"`: a text on its own is not a condition; a tag test is.
        return Diagnostic(ERROR, "syntax", t("a text on its own is not a condition"), path, tok.line, tok.column,
                          tok.end_column if tok.end_line == tok.line else tok.column + 1,
                          t("did you mean {options}?", options=f"'tag {tok}'"), _line(original, tok.line))  # fmt: skip
    if tok.type == "RBRACE" and "RBRACE" not in expected and "JOURNEY" in expected:  # at the top level
        return Diagnostic(ERROR, "syntax", t("this '}}' closes no block"), path, tok.line, tok.column,
                          tok.column + 1, t("remove it, or look for a missing '{{' above"),
                          _line(original, tok.line))  # fmt: skip
    if tok.type == "NUMBER" and "DURATION" in expected:  # `within 3 days`
        unit = _word_unit(_line(original, tok.line), tok.column)
        if unit is not None:
            return unit.diagnostic(path, tok.line, _line(original, tok.line))
    if "COMPARE" not in expected:
        return None
    text = normalize(original)
    lines = text.split("\n")
    offset = sum(len(ln) + 1 for ln in lines[: tok.line - 1]) + tok.column - 1
    start, word = _previous_word(text, offset)
    if not _IDENT.match(word):
        return None
    dotted = start > 0 and text[start - 1] == "."
    field = word
    k = start
    while k > 0 and text[k - 1] == ".":
        k2, before = _previous_word(text, k - 1)
        if not _IDENT.match(before):
            break
        field, k = before + "." + field, k2
    line_no = text.count("\n", 0, k) + 1
    column = k - (text.rfind("\n", 0, k) + 1) + 1
    same_line = line_no == tok.line
    if tok.type in ("STRING", "CNSTRING") and same_line and not dotted and (nearest(word, ("tag",)) or "tag" in word):
        # `atg "VIP群"`: a misspelled `tag` before its text, not a comparison.
        return Diagnostic(ERROR, "syntax", t("'{word}' is not a condition or a keyword", word=word), path, line_no,
                          column, column + len(word), t("did you mean {options}?", options=f"'tag {tok}'"),
                          _line(original, line_no))  # fmt: skip
    if tok.type in ("NUMBER", "STRING", "CNSTRING", "DATE", "TRUE", "FALSE", "MINUS") and same_line:
        # `orders 2`: the comparison sign is missing between the field and the value.
        value = str(tok) if tok.type != "MINUS" else "-…"
        hint = t("did you mean {options}?", options=f"'{field} >= {value}' / '{field} == {value}'")
        return Diagnostic(ERROR, "syntax", t("a comparison sign (==, !=, <, <=, >, >=) is missing before {value}",
                          value=_describe_token(tok)), path, tok.line, tok.column,
                          tok.end_column if tok.end_line == tok.line else tok.column + 1, hint,
                          _line(original, tok.line))  # fmt: skip
    if tok.type in ("COLON", "EQUAL"):
        rest = re.match(r"[ \t]*([^\s{}()\[\],]+)", text[offset + 1 :])
        value = rest.group(1) if rest else "…"
        options = [f"{field} >= {value}", f"{field} == {value}"] if tok.type == "COLON" else [f"{field} == {value}"]
        hint = t("did you mean {options}?", options=" / ".join(f"'{o}'" for o in options))
        message = t("'{sign}' does not compare: write a comparison sign (==, !=, <, <=, >, >=)",
                    sign=_line(original, tok.line)[tok.column - 1 : tok.column] or str(tok))  # fmt: skip
        return Diagnostic(ERROR, "syntax", message, path, tok.line, tok.column, tok.column + 1, hint,
                          _line(original, tok.line))  # fmt: skip
    if word in keywords():  # a keyword read as a name (`= within 14d`: the field is missing)
        return None
    _, keyword = _previous_word(text, k)
    if same_line and tok.type not in _CONDITION_ENDS:
        # `spent >= 5000 ors tag "x"`: a misspelled `or`/`and` right after a whole condition.
        near = nearest(word, ("and", "or")) if keyword not in _CONDITION_KEYWORDS | {"=", "(", "to"} else None
        if near is None:
            return None  # two names in a row (`a dded_at`), a stray `]`: the generic message fits
        return Diagnostic(ERROR, "syntax", t("'{word}' is not a condition or a keyword", word=word), path, line_no,
                          column, column + len(word), did_you_mean(word, (near,)), _line(original, line_no))  # fmt: skip
    lead = {"to": "visible to ", "when": "exit when "}.get(
        keyword, f"{keyword} " if keyword in _CONDITION_KEYWORDS else ""
    )
    if dotted:
        message = t("'{field}' alone is not a condition: compare it with a value", field=field)
        hint = t("did you mean {options}?", options=f"'{lead}{field} == …'")
    else:
        # `inSVIP`: the space after `in` is missing.
        glued = field.startswith("in") and len(field) > 2 and not ("a" <= field[2] <= "z" or field[2] == "_")
        name = field[2:] if glued else field
        message = t("'{name}' alone is not a condition: a segment is tested with 'in {name}'", name=name)
        hint = t("did you mean {options}?", options=f"'{lead}in {name}'")
    return Diagnostic(ERROR, "syntax", message, path, line_no, column, column + len(field), hint,
                      _line(original, line_no))  # fmt: skip


_CONDITION_KEYWORDS = {"where", "when", "members", "if", "and", "or", "not"}
# What may follow a whole condition: the end of a line, a block, `)`, `and`/`or`, a ':'.
_CONDITION_ENDS = {"LBRACE", "RBRACE", "RPAR", "AND", "OR", "COLON", "$END"}
