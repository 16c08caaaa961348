"""The typed syntax tree of a playbook file.

Every node is a dataclass. Source positions (`span`) and the file name are excluded from
equality, so two trees are equal when they mean the same program: that is what
`parse(fmt(x)) == parse(x)` compares. The tree keeps the order the operator wrote
things in (fmt preserves it); the compiler decides what the order means.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """1-based line/column of the first character; end is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


NOSPAN = Span(0, 0, 0, 0)


def _pos() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)  # type: ignore[return-value]


# ---- leaves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A name as written where it is declared or referenced (segment, content, event…)."""

    value: str
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Text:
    """A string literal after escapes and dedent."""

    value: str
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Duration:
    minutes: int
    # As written ("14d", "1d12h"), so fmt does not rewrite 14d as 2w.
    text: str = field(default="", compare=False)
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Clock:
    hour: int
    minute: int
    span: Span = _pos()

    @property
    def minutes(self) -> int:
        return self.hour * 60 + self.minute

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: Clock
    end: Clock
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class DateTimeLit:
    """A local date and time (playbook timezone), e.g. 2026-12-10 10:00."""

    value: dt.datetime
    span: Span = _pos()


# ---- expressions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """A data field: `spent`, `event.amount`, `account.name`."""

    path: tuple[str, ...]
    span: Span = _pos()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Literal:
    """kind is one of text, number, date, datetime, bool."""

    kind: str
    value: str | int | float | bool | dt.date | dt.datetime
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class BoolOp:
    """`left and right` / `left or right`; chains nest to the left."""

    op: str
    left: Expr
    right: Expr
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: str
    operand: Literal | Field
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class InList:
    field: Field
    values: tuple[Literal, ...]
    negated: bool = False
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Within:
    field: Field
    duration: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class IsSet:
    field: Field
    negated: bool = False
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class HasTag:
    tag: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class InSegment:
    segment: Name
    span: Span = _pos()


Expr = BoolOp | Not | Compare | InList | Within | IsSet | HasTag | InSegment


# ---- schedules ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekdayItem:
    """`mon` or the range `mon-fri` (0 = Monday)."""

    first: int
    last: int | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryDay:
    times: tuple[Clock, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryWeekday:
    """Monday to Friday."""

    times: tuple[Clock, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryWeekend:
    times: tuple[Clock, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryWeekdays:
    days: tuple[WeekdayItem, ...]
    times: tuple[Clock, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryMonth:
    days: tuple[int, ...]
    times: tuple[Clock, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EveryInterval:
    every: Duration
    between: TimeRange | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Cron:
    expression: Text
    span: Span = _pos()


Schedule = EveryDay | EveryWeekday | EveryWeekend | EveryWeekdays | EveryMonth | EveryInterval | Cron


# ---- steps ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class After:
    duration: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class AtTime:
    clock: Clock
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class DayAt:
    day: int
    clock: Clock
    span: Span = _pos()


Timing = After | AtTime | DayAt


@dataclass(frozen=True, slots=True)
class Dm:
    content: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Post:
    content: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Task:
    text: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class TagAdd:
    tag: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class TagRemove:
    tag: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Invite:
    group: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class ExitStep:
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class If:
    condition: Expr
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...] | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Arm:
    weight: int | float
    steps: tuple[Step, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Split:
    arms: tuple[Arm, ...]
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Where:
    expr: Expr
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Wait:
    event: Name
    where: Expr | None
    up_to: Duration
    then: tuple[Step, ...] | None = None
    otherwise: tuple[Step, ...] | None = None
    span: Span = _pos()


Action = Dm | Post | Task | TagAdd | TagRemove | Invite | ExitStep | If | Split | Wait


@dataclass(frozen=True, slots=True)
class Step:
    timing: Timing | None
    action: Action
    span: Span = _pos()


# ---- journey clauses ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryOn:
    event: Name
    where: Expr | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EntryEnter:
    segment: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EntrySchedule:
    schedule: Schedule
    segment: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class EntryAt:
    at: DateTimeLit
    segment: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class ExitOn:
    event: Name
    where: Expr | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class ExitWhen:
    condition: Expr
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Reenter:
    after: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Goal:
    event: Name
    where: Expr | None
    within: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Priority:
    value: int | float
    span: Span = _pos()


JourneyClause = EntryOn | EntryEnter | EntrySchedule | EntryAt | ExitOn | ExitWhen | Reenter | Goal | Priority

# ---- group members --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupTitle:
    text: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class GroupMembers:
    expr: Expr
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class OpensOnce:
    at: DateTimeLit
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class OpensSeries:
    schedule: Schedule
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Lasts:
    duration: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Size:
    value: int | float
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class GroupInvite:
    content: Name
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class Closing:
    action: Action
    span: Span = _pos()


GroupMember = GroupTitle | GroupMembers | OpensOnce | OpensSeries | Lasts | Size | GroupInvite | Step | Closing

# ---- Moments and rotations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MomentRule:
    when: Schedule | DateTimeLit
    content: Name
    visible: Expr | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class RotateEach:
    period: Duration
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class RotateOrder:
    field: Field
    descending: bool = False
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class RotateAt:
    clock: Clock
    days: tuple[WeekdayItem, ...] | None = None
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class RotateTask:
    text: Text
    span: Span = _pos()


@dataclass(frozen=True, slots=True)
class RotateMembers:
    expr: Expr
    span: Span = _pos()


RotateMember = RotateEach | RotateOrder | RotateAt | RotateTask | RotateMembers

# ---- top-level declarations -----------------------------------------------------------


def _file() -> str:
    return field(default="", compare=False, repr=False)  # type: ignore[return-value]


@dataclass(slots=True)
class Title:
    text: Text
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Timezone:
    name: Text
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Quiet:
    window: TimeRange
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Limit:
    channel: str
    count: int | float
    scope: str
    period: str
    action: str | None = None
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Segment:
    name: Name
    expr: Expr
    span: Span = _pos()
    file: str = _file()


@dataclass(frozen=True, slots=True)
class ContentPart:
    key: str
    value: Text
    span: Span = _pos()


@dataclass(slots=True)
class Content:
    name: Name
    parts: tuple[ContentPart, ...]
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Journey:
    name: Name
    members: tuple[JourneyClause | Step, ...]
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Group:
    name: Name
    members: tuple[GroupMember, ...]
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Moments:
    name: Name
    rules: tuple[MomentRule, ...]
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Rotate:
    name: Name
    members: tuple[RotateMember, ...]
    span: Span = _pos()
    file: str = _file()


@dataclass(slots=True)
class Sla:
    name: Name
    trigger: Name
    answer: Name
    within: Duration
    during: TimeRange | None = None
    span: Span = _pos()
    file: str = _file()


Declaration = Title | Timezone | Quiet | Limit | Segment | Content | Journey | Group | Moments | Rotate | Sla


@dataclass(slots=True)
class Comment:
    """A `#` comment; kept beside the tree so fmt can put it back."""

    line: int
    column: int
    text: str
    # True when code precedes it on its line (a trailing comment).
    trailing: bool


@dataclass(slots=True)
class File:
    path: str
    declarations: list[Declaration]
    comments: list[Comment] = field(default_factory=list, compare=False, repr=False)
    source: str = field(default="", compare=False, repr=False)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
