"""The typed syntax tree of a playbook file.

Every node is a dataclass-like class (syntax/node.py: defined in one compilation, for
start-up time). Source positions (`span`) and the file name are excluded from
equality, so two trees are equal when they mean the same program: that is what
`parse(fmt(x)) == parse(x)` compares. The tree keeps the order the operator wrote
things in (fmt preserves it); the compiler decides what the order means.
"""

from __future__ import annotations

import datetime as dt

from playbook.syntax.node import build_nodes, node, opt


@node
class Span:
    """1-based line/column of the first character; end is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


build_nodes()  # Span first: NOSPAN below is every node's default position
NOSPAN = Span(0, 0, 0, 0)


def _pos() -> Span:
    return opt(NOSPAN, compare=False)  # type: ignore[no-any-return]


# ---- leaves ---------------------------------------------------------------------------


@node
class Name:
    """A name as written where it is declared or referenced (segment, content, event…)."""

    value: str
    span: Span = _pos()


@node
class Text:
    """A string literal after escapes and dedent."""

    value: str
    span: Span = _pos()


@node
class Duration:
    minutes: int
    # As written ("14d", "1d12h"), so fmt does not rewrite 14d as 2w.
    text: str = opt("", compare=False)
    span: Span = _pos()


@node
class Clock:
    hour: int
    minute: int
    span: Span = _pos()

    @property
    def minutes(self) -> int:
        return self.hour * 60 + self.minute

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@node
class TimeRange:
    start: Clock
    end: Clock
    span: Span = _pos()


@node
class DateTimeLit:
    """A local date and time (playbook timezone), e.g. 2026-12-10 10:00."""

    value: dt.datetime
    span: Span = _pos()


# ---- expressions ----------------------------------------------------------------------


@node
class Field:
    """A data field: `spent`, `event.amount`, `account.name`."""

    path: tuple[str, ...]
    span: Span = _pos()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@node
class Literal:
    """kind is one of text, number, date, datetime, bool."""

    kind: str
    value: str | int | float | bool | dt.date | dt.datetime
    span: Span = _pos()


@node
class BoolOp:
    """`left and right` / `left or right`; chains nest to the left."""

    op: str
    left: Expr
    right: Expr
    span: Span = _pos()


@node
class Not:
    operand: Expr
    span: Span = _pos()


@node
class Compare:
    field: Field
    op: str
    operand: Literal | Field
    span: Span = _pos()


@node
class InList:
    field: Field
    values: tuple[Literal, ...]
    negated: bool = False
    span: Span = _pos()


@node
class Within:
    field: Field
    duration: Duration
    span: Span = _pos()


@node
class IsSet:
    field: Field
    negated: bool = False
    span: Span = _pos()


@node
class HasTag:
    tag: Text
    span: Span = _pos()


@node
class InSegment:
    segment: Name
    span: Span = _pos()


@node
class InGroup:
    """`in group G`: the contact is a member of group G (joined_group/left_group)."""

    group: Name
    span: Span = _pos()


Expr = BoolOp | Not | Compare | InList | Within | IsSet | HasTag | InSegment | InGroup


# ---- schedules ------------------------------------------------------------------------


@node
class WeekdayItem:
    """`mon` or the range `mon-fri` (0 = Monday)."""

    first: int
    last: int | None = None
    span: Span = _pos()


@node
class EveryDay:
    times: tuple[Clock, ...]
    span: Span = _pos()


@node
class EveryWeekday:
    """Monday to Friday."""

    times: tuple[Clock, ...]
    span: Span = _pos()


@node
class EveryWeekend:
    times: tuple[Clock, ...]
    span: Span = _pos()


@node
class EveryWeekdays:
    days: tuple[WeekdayItem, ...]
    times: tuple[Clock, ...]
    span: Span = _pos()


@node
class EveryMonth:
    days: tuple[int, ...]
    times: tuple[Clock, ...]
    span: Span = _pos()


@node
class EveryInterval:
    every: Duration
    between: TimeRange | None = None
    span: Span = _pos()


@node
class Cron:
    expression: Text
    span: Span = _pos()


Schedule = EveryDay | EveryWeekday | EveryWeekend | EveryWeekdays | EveryMonth | EveryInterval | Cron


# ---- steps ----------------------------------------------------------------------------


@node
class After:
    duration: Duration
    span: Span = _pos()


@node
class AtTime:
    clock: Clock
    span: Span = _pos()


@node
class DayAt:
    day: int
    clock: Clock
    span: Span = _pos()


Timing = After | AtTime | DayAt


@node
class Dm:
    content: Name
    span: Span = _pos()


@node
class Post:
    content: Name
    span: Span = _pos()


@node
class Task:
    text: Text
    span: Span = _pos()


@node
class TagAdd:
    tag: Text
    span: Span = _pos()


@node
class TagRemove:
    tag: Text
    span: Span = _pos()


@node
class Invite:
    group: Name
    span: Span = _pos()


@node
class ExitStep:
    span: Span = _pos()


@node
class If:
    condition: Expr
    then: tuple[Step, ...]
    otherwise: tuple[Step, ...] | None = None
    span: Span = _pos()


@node
class Arm:
    weight: int | float
    steps: tuple[Step, ...]
    span: Span = _pos()


@node
class Split:
    arms: tuple[Arm, ...]
    span: Span = _pos()


@node
class Where:
    expr: Expr
    span: Span = _pos()


@node
class Wait:
    event: Name
    where: Expr | None
    up_to: Duration
    then: tuple[Step, ...] | None = None
    otherwise: tuple[Step, ...] | None = None
    span: Span = _pos()


Action = Dm | Post | Task | TagAdd | TagRemove | Invite | ExitStep | If | Split | Wait


@node
class Step:
    timing: Timing | None
    action: Action
    span: Span = _pos()


# ---- journey clauses ------------------------------------------------------------------


@node
class EntryOn:
    event: Name
    where: Expr | None = None
    span: Span = _pos()


@node
class EntryEnter:
    segment: Name
    span: Span = _pos()


@node
class EntrySchedule:
    schedule: Schedule
    segment: Name
    span: Span = _pos()


@node
class EntryAt:
    at: DateTimeLit
    segment: Name
    span: Span = _pos()


@node
class ExitOn:
    event: Name
    where: Expr | None = None
    span: Span = _pos()


@node
class ExitWhen:
    condition: Expr
    span: Span = _pos()


@node
class Reenter:
    after: Duration
    span: Span = _pos()


@node
class Goal:
    event: Name
    where: Expr | None
    within: Duration
    span: Span = _pos()


@node
class Priority:
    value: int | float
    span: Span = _pos()


JourneyClause = EntryOn | EntryEnter | EntrySchedule | EntryAt | ExitOn | ExitWhen | Reenter | Goal | Priority

# ---- group members --------------------------------------------------------------------


@node
class GroupTitle:
    text: Text
    span: Span = _pos()


@node
class GroupMembers:
    expr: Expr
    span: Span = _pos()


@node
class OpensOnce:
    at: DateTimeLit
    span: Span = _pos()


@node
class OpensSeries:
    schedule: Schedule
    span: Span = _pos()


@node
class Lasts:
    duration: Duration
    span: Span = _pos()


@node
class Size:
    value: int | float
    span: Span = _pos()


@node
class GroupInvite:
    content: Name
    span: Span = _pos()


@node
class Closing:
    action: Action
    span: Span = _pos()


# ---- standing-group members (docs/language.md §7.2) -----------------------------------


@node
class Admit:
    expr: Expr
    span: Span = _pos()


@node
class Owner:
    account: Text
    span: Span = _pos()


@node
class GroupEvery:
    schedule: Schedule
    content: Name
    span: Span = _pos()


@node
class Lapse:
    action: Action
    span: Span = _pos()


StandingMember = Admit | Owner | GroupEvery | Lapse
GroupMember = (
    GroupTitle | GroupMembers | OpensOnce | OpensSeries | Lasts | Size | GroupInvite | Step | Closing | StandingMember
)

# ---- Moments and rotations ------------------------------------------------------------


@node
class MomentRule:
    when: Schedule | DateTimeLit
    content: Name
    visible: Expr | None = None
    span: Span = _pos()


@node
class RotateEach:
    period: Duration
    span: Span = _pos()


@node
class RotateOrder:
    field: Field
    descending: bool = False
    span: Span = _pos()


@node
class RotateAt:
    clock: Clock
    days: tuple[WeekdayItem, ...] | None = None
    span: Span = _pos()


@node
class RotateTask:
    text: Text
    span: Span = _pos()


@node
class RotateMembers:
    expr: Expr
    span: Span = _pos()


RotateMember = RotateEach | RotateOrder | RotateAt | RotateTask | RotateMembers


# ---- service-level clauses ------------------------------------------------------------


@node
class SlaRemind:
    """`remind at D`: a reminder task D of counted time into the allowance."""

    at: Duration
    span: Span = _pos()


@node
class SlaEscalate:
    """`escalate to ACCOUNT|"role" after D`: a task to a supervisor D of counted time after
    the level was missed. `target` is a Name (an account id) or a Text (a role)."""

    target: Name | Text
    after: Duration
    span: Span = _pos()


SlaMember = SlaRemind | SlaEscalate

# ---- top-level declarations -----------------------------------------------------------


def _file() -> str:
    return opt("", compare=False)  # type: ignore[no-any-return]


@node
class Title:
    text: Text
    span: Span = _pos()
    file: str = _file()


@node
class Timezone:
    name: Text
    span: Span = _pos()
    file: str = _file()


@node
class Quiet:
    window: TimeRange
    span: Span = _pos()
    file: str = _file()


@node
class Limit:
    channel: str
    count: int | float
    scope: str
    period: str
    action: str | None = None
    span: Span = _pos()
    file: str = _file()


@node
class Segment:
    name: Name
    expr: Expr
    span: Span = _pos()
    file: str = _file()


@node
class ContentPart:
    key: str
    value: Text
    span: Span = _pos()


@node
class Content:
    name: Name
    parts: tuple[ContentPart, ...]
    span: Span = _pos()
    file: str = _file()


@node
class Journey:
    name: Name
    members: tuple[JourneyClause | Step, ...]
    span: Span = _pos()
    file: str = _file()


@node
class Group:
    name: Name
    members: tuple[GroupMember, ...]
    span: Span = _pos()
    file: str = _file()


@node
class Moments:
    name: Name
    rules: tuple[MomentRule, ...]
    span: Span = _pos()
    file: str = _file()


@node
class Rotate:
    name: Name
    members: tuple[RotateMember, ...]
    span: Span = _pos()
    file: str = _file()


@node
class Sla:
    name: Name
    trigger: Name
    answer: Name
    within: Duration
    during: TimeRange | None = None
    members: tuple[SlaMember, ...] = ()  # `remind at` and `escalate to` clauses, in order
    span: Span = _pos()
    file: str = _file()


@node
class EventDecl:
    """`event NAME`: a custom event type the playbook expects (docs/language.md §3.3)."""

    name: Name
    span: Span = _pos()
    file: str = _file()


Declaration = Title | Timezone | Quiet | Limit | Segment | Content | Journey | Group | Moments | Rotate | Sla | EventDecl


@node
class Comment:
    """A `#` comment; kept beside the tree so fmt can put it back."""

    line: int
    column: int
    text: str
    # True when code precedes it on its line (a trailing comment).
    trailing: bool


@node
class File:
    path: str
    declarations: list[Declaration]
    comments: list[Comment] = opt(factory=list, compare=False)
    source: str = opt("", compare=False)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

build_nodes()
