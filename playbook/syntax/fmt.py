"""The canonical layout of a playbook (`playbook fmt`).

`format_file` prints a parsed `ast.File` back as text such that

* `parse(format_file(f)) == f` (the same tree: fmt never changes what a playbook means),
* `format_source(format_file(f))` is the same text again (idempotent),
* every `#` comment comes back exactly once, in its original order.

Layout: 2-space indentation, one member per line, `{` on the line that opens the block,
a blank line around every multi-line top-level declaration, ASCII punctuation outside
strings (the tree holds no full-width characters; strings and comments are printed as
they are). Blank lines the operator left between declarations, members and comments are
kept (collapsed to one), so grouping survives. Three layout choices are read from the
source and kept: an action put on the line after its timing, an `else`/`then` that begins
a line, and a short block written on one line (docs/fmt.md, "What fmt keeps").

How comments are put back: the printer first produces output lines, each remembering the
source position of the first token it renders (its *anchor*; `}` lines are anchored at
their closing brace, found by scanning the source). Comments are then merged in source
order: an own-line comment goes right before the first anchored line that starts after
it (at that line's indentation, or one level deeper before a `}`, so a comment at the end
of a block stays inside it); a trailing comment goes to the end of the last line printed
before that point, or onto its own line when that line already carries one.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from playbook.syntax import ast as A
from playbook.syntax.parser import dedent_block, parse
from playbook.syntax.source import normalize

INDENT = "  "

Pos = tuple[int, int]  # (line, column), 1-based, in the normalized source
T = TypeVar("T")


def format_source(text: str, path: str = "<input>") -> str:
    """Parse `text` and print it in the canonical layout (raises PlaybookError if invalid)."""
    return format_file(parse(text, path))


def format_file(file: A.File) -> str:
    """The canonical text of a parsed file, comments included; ends with one newline."""
    printer = _Printer(file)
    printer.declarations(file.declarations)
    return printer.merge(file.comments)


# ---- leaves ------------------------------------------------------------------------------

_UNITS = (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1))
_ESCAPED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_ESCAPE_RE = re.compile(r'[\\"\n\t]')
_ML_ESCAPE_RE = re.compile(r'\\|\t|"(?="")')  # in """…""" only a run of quotes needs escaping
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_UNESCAPED = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_PRECEDENCE = {"or": 1, "and": 2}
_MLSTRING = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""')  # the lexer's MLSTRING


def duration(d: A.Duration) -> str:
    """What the operator wrote (`14d` stays `14d`), else largest unit first: `1d12h`."""
    if d.text:
        return d.text
    rest, out = d.minutes, []
    for unit, size in _UNITS:
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0m"


def number(value: int | float) -> str:
    """A number the lexer reads back as the same value: no exponent, floats keep a '.'."""
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot write the number {value!r} in a playbook")
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def quoted(text: str) -> str:
    """The one-line "…" form: only \\ \" \\n \\t are escaped, everything else is kept."""
    return '"' + _ESCAPE_RE.sub(lambda m: _ESCAPED[m.group(0)], text) + '"'


def _sla_clause(s: A.Sla) -> str:
    """`TRIGGER answered by ANSWER within D [during A-B]`."""
    during = f" during {_time_range(s.during)}" if s.during else ""
    return f"{s.trigger.value} answered by {s.answer.value} within {duration(s.within)}{during}"


def clock(c: A.Clock) -> str:
    return f"{c.hour:02d}:{c.minute:02d}"


def _date(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _datetime(d: dt.datetime) -> str:
    return f"{_date(d)} {d.hour:02d}:{d.minute:02d}"


def _time_range(r: A.TimeRange) -> str:
    return f"{clock(r.start)}-{clock(r.end)}"


def _weekdays(items: Sequence[A.WeekdayItem]) -> str:
    return ", ".join(A.WEEKDAYS[i.first] + (f"-{A.WEEKDAYS[i.last]}" if i.last is not None else "") for i in items)


def _times(times: Sequence[A.Clock]) -> str:
    return "at " + ", ".join(clock(t) for t in times)


def schedule(s: A.Schedule) -> str:
    match s:
        case A.EveryDay():
            return f"every day {_times(s.times)}"
        case A.EveryWeekday():
            return f"every weekday {_times(s.times)}"
        case A.EveryWeekend():
            return f"every weekend {_times(s.times)}"
        case A.EveryWeekdays():
            return f"every {_weekdays(s.days)} {_times(s.times)}"
        case A.EveryMonth():
            return f"every month on {', '.join(str(d) for d in s.days)} {_times(s.times)}"
        case A.EveryInterval():
            between = f" between {_time_range(s.between)}" if s.between else ""
            return f"every {duration(s.every)}{between}"
        case A.Cron():
            return f"cron {quoted(s.expression.value)}"
    raise TypeError(f"not a schedule: {s!r}")


# ---- expressions ---------------------------------------------------------------------------


def literal(lit: A.Literal) -> str:
    v = lit.value
    match lit.kind:
        case "text":
            assert isinstance(v, str)
            return quoted(v)
        case "bool":
            return "true" if v else "false"
        case "datetime":
            assert isinstance(v, dt.datetime)
            return _datetime(v)
        case "date":
            assert isinstance(v, dt.date)
            return _date(v)
        case "number":
            assert isinstance(v, int | float) and not isinstance(v, bool)
            return number(v)
    raise TypeError(f"not a literal: {lit!r}")


def _precedence(e: A.Expr) -> int:
    if isinstance(e, A.BoolOp):
        return _PRECEDENCE[e.op]
    return 3 if isinstance(e, A.Not) else 4


def expr(e: A.Expr) -> str:
    """An expression with exactly the parentheses needed to read back the same tree."""
    match e:
        case A.BoolOp():
            # Walk a left-nested chain `a or b or c` in a loop: a long chain is not deep.
            level, rights, node = _PRECEDENCE[e.op], [], e
            while isinstance(node, A.BoolOp) and node.op == e.op:
                rights.append(node.right)
                node = node.left
            first = expr(node)
            parts = [f"({first})" if _precedence(node) < level else first]
            for right in reversed(rights):
                # Chains nest to the left, so an equal-precedence right operand needs parentheses.
                text = expr(right)
                parts.append(f"({text})" if _precedence(right) <= level else text)
            return f" {e.op} ".join(parts)
        case A.Not():
            inner = expr(e.operand)
            return f"not ({inner})" if _precedence(e.operand) < 3 else f"not {inner}"
        case A.Compare():
            operand = e.operand.dotted if isinstance(e.operand, A.Field) else literal(e.operand)
            return f"{e.field.dotted} {e.op} {operand}"
        case A.InList():
            values = ", ".join(literal(v) for v in e.values)
            return f"{e.field.dotted} {'not in' if e.negated else 'in'} [{values}]"
        case A.Within():
            return f"{e.field.dotted} within {duration(e.duration)}"
        case A.IsSet():
            return f"{e.field.dotted} is {'not set' if e.negated else 'set'}"
        case A.HasTag():
            return f"tag {quoted(e.tag.value)}"
        case A.InSegment():
            return f"in {e.segment.value}"
        case A.InGroup():
            return f"in group {e.group.value}"
    raise TypeError(f"not an expression: {e!r}")


def _where(e: A.Expr | None) -> str:
    return f" where {expr(e)}" if e is not None else ""


def _timing(t: A.Timing | None) -> str:
    match t:
        case None:
            return ""
        case A.After():
            return f"after {duration(t.duration)}: "
        case A.AtTime():
            return f"at {clock(t.clock)}: "
        case A.DayAt():
            return f"day {t.day} at {clock(t.clock)}: "
    raise TypeError(f"not a timing: {t!r}")


def _multiline_body(text: str, depth: int) -> list[str] | None:
    """The lines of a \"\"\"…\"\"\" string for `text` whose key sits at `depth`, or None when
    reading them back (dedent, then escapes) would not give exactly `text`."""
    if "\n" not in text:
        return None
    pad = INDENT * depth
    escaped = _ML_ESCAPE_RE.sub(lambda m: "\\t" if m.group(0) == "\t" else "\\" + m.group(0), text)
    body = [pad + line if line else "" for line in escaped.split("\n")]
    raw = "\n" + "\n".join(body) + "\n" + INDENT * depth
    if not _MLSTRING.fullmatch('"""' + raw + '"""'):
        return None
    back = _UNESCAPE_RE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(0)), dedent_block(raw))
    return body if back == text else None


# ---- the source, for comment anchors and blank lines -------------------------------------

# Strings and comments are skipped (they may hold braces); group 1 is a structural brace.
_BRACES = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""'
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|“(?:[^”\\\n]|\\.)*”"
    r"|#[^\n]*"
    r"|([{}])"
)


@dataclass(frozen=True, slots=True)
class _Braces:
    open: Pos
    close: Pos


class _Source:
    """The normalized source text: line lookups and the matching braces of every block."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        self.line_starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        self.opens: list[int] = []
        self.pairs: dict[int, int] = {}
        stack: list[int] = []
        for m in _BRACES.finditer(text):
            if m.group(1) == "{":
                stack.append(m.start())
                self.opens.append(m.start())
            elif m.group(1) == "}" and stack:
                self.pairs[stack.pop()] = m.start()

    def offset(self, pos: Pos) -> int:
        line, column = pos
        return self.line_starts[line - 1] + column - 1

    def pos(self, offset: int) -> Pos:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def blank(self, line: int) -> bool:
        return 1 <= line <= len(self.lines) and not self.lines[line - 1].strip(" \t\f")

    def braces_after(self, offset: int) -> _Braces | None:
        """The first block whose '{' is at or after `offset`."""
        i = bisect.bisect_left(self.opens, offset)
        if i == len(self.opens) or self.opens[i] not in self.pairs:
            return None
        start = self.opens[i]
        return _Braces(self.pos(start), self.pos(self.pairs[start]))

    def next_significant(self, offset: int) -> int:
        """The offset of the next character that is neither whitespace nor in a comment."""
        text, n = self.text, len(self.text)
        while offset < n:
            ch = text[offset]
            if ch == "#":
                end = text.find("\n", offset)
                offset = n if end < 0 else end
            elif ch in " \t\f\r\n":
                offset += 1
            else:
                return offset
        return n


# ---- output lines ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    depth: int
    text: str
    anchor: Pos | None  # source position of the first token rendered here
    comment_depth: int  # where own-line comments placed before this line are indented
    can_trail: bool = True  # False while a """ string is open at the end of the line
    opens: bool = False  # ends with '{': no blank line right after it
    closes: bool = False  # starts with '}': no blank line right before it
    raw: bool = False  # a """ string body line, printed as it is
    blank_before: bool = False  # the operator left a blank line before it
    force_blank: bool = False  # a multi-line top-level declaration starts here

    def render(self) -> str:
        return self.text if self.raw else INDENT * self.depth + self.text


def _start(span: A.Span) -> Pos | None:
    return (span.line, span.column) if span.line else None


class _Printer:
    def __init__(self, file: A.File) -> None:
        self.src = _Source(normalize(file.source)) if file.source else None
        self.comment_positions = sorted((c.line, c.column) for c in file.comments)
        self.lines: list[_Line] = []

    # ---- building lines ---------------------------------------------------------------------
    def emit(
        self,
        depth: int,
        text: str,
        anchor: Pos | None,
        *,
        comment_depth: int | None = None,
        can_trail: bool = True,
        closes: bool = False,
    ) -> _Line:
        blank = bool(self.src and anchor and self.src.blank(anchor[0] - 1))
        line = _Line(depth, text, anchor, depth if comment_depth is None else comment_depth, can_trail,
                     closes=closes, blank_before=blank)  # fmt: skip
        self.lines.append(line)
        return line

    def text_line(self, depth: int, head: str, text: str, anchor: Pos | None) -> None:
        """`head` followed by a string: \"\"\"…\"\"\" for multi-line text when it reads back."""
        body = _multiline_body(text, depth)
        if body is None:
            self.emit(depth, head + quoted(text), anchor)
            return
        self.emit(depth, head + '"""', anchor, can_trail=False)
        for row in body:
            self.lines.append(_Line(depth, row, None, depth, can_trail=False, raw=True))
        self.lines.append(_Line(depth, '"""', None, depth))

    def _has_comment_inside(self, braces: _Braces | None) -> bool:
        if braces is None:
            return False
        i = bisect.bisect_right(self.comment_positions, braces.open)
        return i < len(self.comment_positions) and self.comment_positions[i] < braces.close

    def blocks(
        self,
        depth: int,
        head: str,
        anchor: Pos | None,
        parts: Sequence[tuple[str, Sequence[T], Callable[[T, int], None], _Braces | None]],
        *,
        compact: bool = False,
        labels_at: Sequence[Pos | None] = (),
        label_depth: int = 0,
    ) -> None:
        """`head label1 { … } label2 { … }` — each part is (label, items, print_item, braces).

        `compact`: a block the operator wrote on one line stays on one line when its items
        are one-line each and no comment is inside it (`{ dm 新客礼 }`). `labels_at[i]`: the
        source position of part i's label when the operator began a line with it (`else {`
        under the `}`); it is then printed on its own line, `label_depth` levels deeper."""
        line = self.emit(depth, head, anchor)
        expanded = False  # the previous block was printed over several lines
        previous: _Braces | None = None
        for i, (label, items, print_item, braces) in enumerate(parts):
            label_at = labels_at[i] if i < len(labels_at) else None
            if i and expanded:
                close = previous.close if previous else None
                if label_at is not None:
                    self.emit(line.depth, "}", close, comment_depth=line.depth + 1, closes=True,
                              can_trail=close is not None)  # fmt: skip
                    line = self.emit(depth + label_depth, label, label_at)
                else:
                    line = self.emit(line.depth, "} " + label, close, comment_depth=line.depth + 1, closes=True,
                                     can_trail=close is not None)  # fmt: skip
            elif label_at is not None and label:
                line = self.emit(depth + label_depth, label, label_at)
            elif label:
                line.text += " " + label
            one_line = self._one_line(items, print_item, line.depth + 1) if compact and _on_one_line(braces) else None
            if not items and not self._has_comment_inside(braces):
                line.text += " {}"
                expanded = False
            elif one_line is not None and not self._has_comment_inside(braces):
                line.text += " { " + one_line + " }"
                expanded = False
            else:
                line.text += " {"
                line.opens = True
                for item in items:
                    print_item(item, line.depth + 1)
                expanded = True
            previous = braces
        if expanded:
            close = previous.close if previous else None
            self.emit(line.depth, "}", close, comment_depth=line.depth + 1, closes=True, can_trail=close is not None)

    def _one_line(self, items: Sequence[T], print_item: Callable[[T, int], None], depth: int) -> str | None:
        """`items` printed side by side, or None when one of them takes several lines."""
        if not items:
            return None
        first = len(self.lines)
        for item in items:
            print_item(item, depth)
        printed = self.lines[first:]
        del self.lines[first:]
        if len(printed) != len(items) or any(ln.raw or ln.opens or not ln.can_trail for ln in printed):
            return None
        return " ".join(ln.text for ln in printed)

    def _label_on_own_line(self, offset: int | None, word: str) -> Pos | None:
        """The position of `word` ending right before `offset` (whitespace between) when it
        is the first thing on its source line; else None."""
        if self.src is None or offset is None:
            return None
        text = self.src.text
        i = offset - 1
        while i >= 0 and text[i] in " \t\f\r\n":
            i -= 1
        start = i - len(word) + 1
        if start < 0 or text[start : i + 1] != word:
            return None
        j = start - 1
        while j >= 0 and text[j] in " \t\f":
            j -= 1
        return self.src.pos(start) if j < 0 or text[j] == "\n" else None

    def _offset(self, pos: Pos | None) -> int | None:
        return self.src.offset(pos) if self.src is not None and pos is not None else None

    # ---- source lookups (None when the tree has no source, e.g. built by hand) -------------------
    def _braces_after(self, span: A.Span) -> _Braces | None:
        start = _start(span)
        if self.src is None or start is None:
            return None
        return self.src.braces_after(self.src.offset(start))

    def _braces_following(self, braces: _Braces | None) -> _Braces | None:
        if self.src is None or braces is None:
            return None
        return self.src.braces_after(self.src.offset(braces.close) + 1)

    def _brace_right_after(self, end: Pos | None, skip: str = "") -> _Braces | None:
        """The block opened by the next significant character after `end` (after `skip`)."""
        if self.src is None or end is None:
            return None
        offset = self.src.next_significant(self.src.offset(end))
        for ch in skip:
            if self.src.text[offset : offset + 1] != ch:
                return None
            offset = self.src.next_significant(offset + 1)
        if self.src.text[offset : offset + 1] != "{":
            return None
        return self.src.braces_after(offset)

    # ---- declarations -----------------------------------------------------------------------------
    def declarations(self, decls: Sequence[A.Declaration]) -> None:
        previous_multi = False
        for i, decl in enumerate(decls):
            first = len(self.lines)
            self.declaration(decl)
            multi = len(self.lines) - first > 1 and not isinstance(decl, A.Content)
            if i and (multi or previous_multi):
                self.lines[first].force_blank = True
            previous_multi = multi

    def declaration(self, d: A.Declaration) -> None:
        at = _start(d.span)
        match d:
            case A.Title():
                self.emit(0, f"playbook {quoted(d.text.value)}", at)
            case A.Timezone():
                self.emit(0, f"timezone {quoted(d.name.value)}", at)
            case A.EventDecl():
                self.emit(0, f"event {d.name.value}", at)
            case A.Quiet():
                self.emit(0, f"quiet {_time_range(d.window)}", at)
            case A.Limit():
                action = f" else {d.action}" if d.action else ""
                self.emit(0, f"limit {d.channel} {number(d.count)} per {d.scope} per {d.period}{action}", at)
            case A.Segment():
                self.emit(0, f"segment {d.name.value} = {expr(d.expr)}", at)
            case A.Content():
                braces = self._brace_right_after(_end(d.name.span))
                # One one-line text: `content X = "…"`, unless the operator wrote the block form.
                single = len(d.parts) == 1 and d.parts[0].key == "text" and braces is None
                if single and _multiline_body(d.parts[0].value.value, 1) is None:
                    self.emit(0, f"content {d.name.value} = {quoted(d.parts[0].value.value)}", at)
                else:
                    self.blocks(0, f"content {d.name.value}", at, [("", d.parts, self.content_part, braces)],
                                compact=True)  # fmt: skip
            case A.Journey():
                self.blocks(0, f"journey {d.name.value}", at,
                            [("", d.members, self.journey_member, self._braces_after(d.span))])  # fmt: skip
            case A.Group():
                self.blocks(0, f"group {d.name.value}", at,
                            [("", d.members, self.group_member, self._braces_after(d.span))])  # fmt: skip
            case A.Moments():
                self.blocks(0, f"moments {d.name.value}", at,
                            [("", d.rules, self.moment_rule, self._braces_after(d.span))])  # fmt: skip
            case A.Rotate():
                self.blocks(0, f"rotate {d.name.value}", at,
                            [("", d.members, self.rotate_member, self._braces_after(d.span))])  # fmt: skip
            case A.Sla() if not d.members:
                self.emit(0, f"sla {d.name.value} {{ {_sla_clause(d)} }}", at)
            case A.Sla():
                self.blocks(0, f"sla {d.name.value}", at,
                            [("", (d, *d.members), self.sla_member, self._braces_after(d.span))],
                            compact=True)  # fmt: skip
            case _:
                raise TypeError(f"not a declaration: {d!r}")

    def content_part(self, part: A.ContentPart, depth: int) -> None:
        self.text_line(depth, f"{part.key} ", part.value.value, _start(part.span))

    # ---- journeys -------------------------------------------------------------------------------
    def journey_member(self, m: A.JourneyClause | A.Step, depth: int) -> None:
        at = _start(m.span)
        match m:
            case A.Step():
                self.step(m, depth)
            case A.EntryOn():
                self.emit(depth, f"on {m.event.value}{_where(m.where)}", at)
            case A.EntryEnter():
                self.emit(depth, f"on enter {m.segment.value}", at)
            case A.EntrySchedule():
                self.emit(depth, f"{schedule(m.schedule)} for {m.segment.value}", at)
            case A.EntryAt():
                self.emit(depth, f"at {_datetime(m.at.value)} for {m.segment.value}", at)
            case A.ExitOn():
                self.emit(depth, f"exit on {m.event.value}{_where(m.where)}", at)
            case A.ExitWhen():
                self.emit(depth, f"exit when {expr(m.condition)}", at)
            case A.Reenter():
                self.emit(depth, f"reenter after {duration(m.after)}", at)
            case A.Goal():
                self.emit(depth, f"goal {m.event.value}{_where(m.where)} within {duration(m.within)}", at)
            case A.Priority():
                self.emit(depth, f"priority {number(m.value)}", at)
            case _:
                raise TypeError(f"not a journey member: {m!r}")

    def step(self, s: A.Step, depth: int, prefix: str = "", anchor: Pos | None = None) -> None:
        timing = _timing(s.timing)
        at = anchor or _start(s.span)
        action_at = _start(s.action.span)
        if timing and self._starts_line(action_at):
            # The operator put the action under its timing (`day 3 at 20:00:` then the
            # `wait`/`if` on the next line): keep it there, one level deeper.
            self.emit(depth, prefix + timing.rstrip(), at)
            self.action(s.action, depth + 1, "", action_at)
            return
        self.action(s.action, depth, prefix + timing, at)

    def _starts_line(self, pos: Pos | None) -> bool:
        """Whether only whitespace precedes `pos` on its source line."""
        offset = self._offset(pos)
        if self.src is None or offset is None:
            return False
        i = offset - 1
        while i >= 0 and self.src.text[i] in " \t\f":
            i -= 1
        return i < 0 or self.src.text[i] == "\n"

    def action(self, a: A.Action, depth: int, head: str, at: Pos | None) -> None:
        match a:
            case A.Dm():
                self.emit(depth, f"{head}dm {a.content.value}", at)
            case A.Post():
                self.emit(depth, f"{head}post {a.content.value}", at)
            case A.Task():
                self.text_line(depth, f"{head}task ", a.text.value, at)
            case A.TagAdd():
                self.emit(depth, f"{head}tag add {quoted(a.tag.value)}", at)
            case A.TagRemove():
                self.emit(depth, f"{head}tag remove {quoted(a.tag.value)}", at)
            case A.Invite():
                self.emit(depth, f"{head}invite {a.group.value}", at)
            case A.ExitStep():
                self.emit(depth, f"{head}exit", at)
            case A.If():
                self.if_chain(a, depth, head, at)
            case A.Split():
                self.blocks(depth, f"{head}split", at, [("", a.arms, self.arm, self._braces_after(a.span))])
            case A.Wait():
                self.wait(a, depth, head, at)
            case _:
                raise TypeError(f"not an action: {a!r}")

    def if_chain(self, a: A.If, depth: int, head: str, at: Pos | None) -> None:
        braces = self._braces_after(a.span)
        parts: list[tuple[str, Sequence[A.Step], Callable[[A.Step, int], None], _Braces | None]] = [
            ("", a.then, self.step, braces)
        ]
        labels_at: list[Pos | None] = [None]
        node = a
        # `else { if … }` with nothing else in it prints as `else if …`, which reads back the same.
        while node.otherwise is not None:
            other = node.otherwise
            if len(other) == 1 and other[0].timing is None and isinstance(other[0].action, A.If):
                node = other[0].action
                labels_at.append(self._label_on_own_line(self._offset(_start(node.span)), "else"))
                braces = self._braces_after(node.span)
                parts.append((f"else if {expr(node.condition)}", node.then, self.step, braces))
                continue
            braces = self._braces_following(braces)
            labels_at.append(self._label_on_own_line(self._offset(braces.open if braces else None), "else"))
            parts.append(("else", other, self.step, braces))
            break
        self.blocks(depth, f"{head}if {expr(a.condition)}", at, parts, compact=True, labels_at=labels_at)

    def wait(self, a: A.Wait, depth: int, head: str, at: Pos | None) -> None:
        text = f"{head}wait for {a.event.value}{_where(a.where)} up to {duration(a.up_to)}"
        parts: list[tuple[str, Sequence[A.Step], Callable[[A.Step, int], None], _Braces | None]] = []
        labels_at: list[Pos | None] = []
        braces = None
        if a.then is not None:
            braces = self._braces_after(a.span)
            labels_at.append(self._label_on_own_line(self._offset(braces.open if braces else None), "then"))
            parts.append(("then", a.then, self.step, braces))
        if a.otherwise is not None:
            braces = self._braces_following(braces) if braces else self._braces_after(a.span)
            labels_at.append(self._label_on_own_line(self._offset(braces.open if braces else None), "else"))
            parts.append(("else", a.otherwise, self.step, braces))
        if parts:
            # `then`/`else` on lines of their own sit one level under the `wait`.
            self.blocks(depth, text, at, parts, compact=True, labels_at=labels_at, label_depth=1)
        else:
            self.emit(depth, text, at)

    def arm(self, arm: A.Arm, depth: int) -> None:
        head = f"{number(arm.weight)}%:"
        at = _start(arm.span)
        if len(arm.steps) == 1:
            self.step(arm.steps[0], depth, head + " ", at)
            return
        braces = self._brace_right_after(_end(arm.span), skip=":")
        self.blocks(depth, head, at, [("", arm.steps, self.step, braces)], compact=True)

    # ---- groups, Moments, rotations --------------------------------------------------------------
    def group_member(self, m: A.GroupMember, depth: int) -> None:
        at = _start(m.span)
        match m:
            case A.Step():
                self.step(m, depth)
            case A.GroupTitle():
                self.emit(depth, f"name {quoted(m.text.value)}", at)
            case A.GroupMembers():
                self.emit(depth, f"members {expr(m.expr)}", at)
            case A.OpensOnce():
                self.emit(depth, f"opens {_datetime(m.at.value)}", at)
            case A.OpensSeries():
                self.emit(depth, f"opens {schedule(m.schedule)}", at)
            case A.Lasts():
                self.emit(depth, f"lasts {duration(m.duration)}", at)
            case A.Size():
                self.emit(depth, f"size {number(m.value)}", at)
            case A.GroupInvite():
                self.emit(depth, f"invite {m.content.value}", at)
            case A.Closing():
                self.action(m.action, depth, "closing: ", at)
            case A.Admit() | A.Owner() | A.GroupEvery() | A.Lapse():
                self.standing_member(m, depth, at)
            case _:
                raise TypeError(f"not a group member: {m!r}")

    def standing_member(self, m: A.StandingMember, depth: int, at: Pos | None) -> None:
        """A standing group's own clauses (docs/language.md §7.2)."""
        match m:
            case A.Admit():
                self.emit(depth, f"admit {expr(m.expr)}", at)
            case A.Owner():
                self.emit(depth, f"owner {quoted(m.account.value)}", at)
            case A.GroupEvery():
                self.emit(depth, f"{schedule(m.schedule)}: post {m.content.value}", at)
            case A.Lapse():
                self.action(m.action, depth, "when not admitted: ", at)

    def moment_rule(self, r: A.MomentRule, depth: int) -> None:
        when = f"at {_datetime(r.when.value)}" if isinstance(r.when, A.DateTimeLit) else schedule(r.when)
        visible = f" visible to {expr(r.visible)}" if r.visible is not None else ""
        self.emit(depth, f"{when}: post {r.content.value}{visible}", _start(r.span))

    def rotate_member(self, m: A.RotateMember, depth: int) -> None:
        at = _start(m.span)
        match m:
            case A.RotateEach():
                self.emit(depth, f"each contact every {duration(m.period)}", at)
            case A.RotateOrder():
                self.emit(depth, f"order by {m.field.dotted}{' desc' if m.descending else ''}", at)
            case A.RotateAt():
                days = f" on {_weekdays(m.days)}" if m.days else ""
                self.emit(depth, f"at {clock(m.clock)}{days}", at)
            case A.RotateTask():
                self.text_line(depth, "task ", m.text.value, at)
            case A.RotateMembers():
                self.emit(depth, f"members {expr(m.expr)}", at)
            case _:
                raise TypeError(f"not a rotate member: {m!r}")

    # ---- service levels -------------------------------------------------------------------------
    def sla_member(self, m: A.Sla | A.SlaMember, depth: int) -> None:
        """An SLA's lines in its block: its `answered by` clause (the Sla itself), then its
        `remind at` and `escalate to` clauses."""
        match m:
            case A.Sla():
                self.emit(depth, _sla_clause(m), _start(m.trigger.span))
            case A.SlaRemind():
                self.emit(depth, f"remind at {duration(m.at)}", _start(m.span))
            case A.SlaEscalate():
                target = m.target.value if isinstance(m.target, A.Name) else quoted(m.target.value)
                self.emit(depth, f"escalate to {target} after {duration(m.after)}", _start(m.span))
            case _:
                raise TypeError(f"not an sla member: {m!r}")

    # ---- comments and blank lines ---------------------------------------------------------------
    def merge(self, comments: Sequence[A.Comment]) -> str:
        """Render the lines with every comment put back (see the module docstring)."""
        pending = sorted(comments, key=lambda c: (c.line, c.column))
        out: list[str] = []
        trail_target: int | None = None  # index in `out` of the last line a comment may trail
        trailed: set[int] = set()
        after_open = True  # no blank line at the top of the file or of a block
        i = 0

        def blank() -> None:
            if not after_open and out and out[-1] != "":
                out.append("")

        for line in self.lines:
            own: list[A.Comment] = []
            while line.anchor is not None and i < len(pending) and (pending[i].line, pending[i].column) < line.anchor:
                c = pending[i]
                i += 1
                if c.trailing and trail_target is not None and trail_target not in trailed:
                    out[trail_target] += "  " + _comment(c)
                    trailed.add(trail_target)
                else:
                    own.append(c)
            if line.force_blank:
                blank()
            for c in own:
                if self.src and self.src.blank(c.line - 1):
                    blank()
                out.append(INDENT * line.comment_depth + _comment(c))
                after_open = False
            if line.blank_before and not line.closes:
                blank()
            out.append(line.render())
            after_open = line.opens
            if line.can_trail:
                trail_target = len(out) - 1
        for c in pending[i:]:  # after the last anchored line: the end of the file
            if c.trailing and trail_target is not None and trail_target not in trailed:
                out[trail_target] += "  " + _comment(c)
                trailed.add(trail_target)
                continue
            if self.src and self.src.blank(c.line - 1):
                blank()
            out.append(_comment(c))
            after_open = False
        return "\n".join(out) + "\n" if out else ""


def _comment(c: A.Comment) -> str:
    return c.text.rstrip(" \t\f")


def _on_one_line(braces: _Braces | None) -> bool:
    return braces is not None and braces.open[0] == braces.close[0]


def _end(span: A.Span) -> Pos | None:
    return (span.end_line, span.end_column) if span.line else None
