"""The schedule graph: what a compiled playbook means, as pydantic models.

This is the contract between the compiler and everything above it (engine, plan,
runtime). The compiler emits it as plain JSON-ready data (the canonical form: absent
fields left out) so that `playbook check` never pays for importing pydantic; these
models are its schema and the typed view everything above the compiler works with
(`load(doc)`). A test keeps the two identical. It is plain data: names are resolved, durations are minutes, clock times are
"HH:MM" in the playbook timezone, datetimes are local ISO strings, and every flow's steps
are nodes of a graph with explicit successors. Its JSON form is stable (sorted keys,
`ir_version`) and its `version` is a hash of that canonical form, so the same meaning
always gets the same id and any change of meaning gets a new one. Source positions live
in `sources`, which the hash leaves out: moving a comment does not make a new version.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from playbook.compiler.canonical import IR_VERSION, dumps, version_of_doc
from playbook.vocab.localtime import DEFAULT_TIMEZONE

__all__ = ["IR_VERSION", "dumps", "version_of_doc"]  # re-exported: the IR's one import point


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- expressions ------------------------------------------------------------------------


class Lit(Model):
    kind: Literal["text", "number", "date", "datetime", "bool"]
    value: bool | int | float | str  # dates and datetimes as ISO text


class FieldRef(Model):
    field: str


class Cmp(Model):
    op: Literal["cmp"] = "cmp"
    field: str
    cmp: Literal["==", "!=", "<", "<=", ">", ">="]
    value: Lit | FieldRef


class InList(Model):
    op: Literal["in"] = "in"
    field: str
    values: list[Lit]


class Within(Model):
    op: Literal["within"] = "within"
    field: str
    minutes: int


class IsSet(Model):
    op: Literal["is_set"] = "is_set"
    field: str


class HasTag(Model):
    op: Literal["tag"] = "tag"
    tag: str


class InSegment(Model):
    op: Literal["segment"] = "segment"
    segment: str


class InGroup(Model):
    """`in group G`: G is in the contact's `groups` (joined_group/left_group keep it)."""

    op: Literal["group"] = "group"
    group: str


class And(Model):
    op: Literal["and"] = "and"
    args: list[Expr]


class Or(Model):
    op: Literal["or"] = "or"
    args: list[Expr]


class Not(Model):
    op: Literal["not"] = "not"
    arg: Expr


Expr = Annotated[
    Cmp | InList | Within | IsSet | HasTag | InSegment | InGroup | And | Or | Not, Field(discriminator="op")
]


# ---- schedules --------------------------------------------------------------------------


class Weekly(Model):
    """Fires at each time on each listed weekday (0 = Monday)."""

    kind: Literal["weekly"] = "weekly"
    weekdays: list[int]
    times: list[str]


class Monthly(Model):
    """Fires on the listed days of each month; a month without that day is skipped."""

    kind: Literal["monthly"] = "monthly"
    days: list[int]
    times: list[str]


class Interval(Model):
    """Every `minutes`, counted from the window start (or midnight) of each day."""

    kind: Literal["interval"] = "interval"
    minutes: int
    between: list[str] | None = None


class CronSchedule(Model):
    kind: Literal["cron"] = "cron"
    expr: str


Schedule = Annotated[Weekly | Monthly | Interval | CronSchedule, Field(discriminator="kind")]


# ---- steps ------------------------------------------------------------------------------


class Timing(Model):
    """after: `minutes` after the previous step; at: the next `time` strictly after it;
    day: day `day` (0 = entry day) at `time`, never earlier than the previous step."""

    kind: Literal["after", "at", "day"]
    minutes: int | None = None
    day: int | None = None
    time: str | None = None


class Arm(Model):
    name: str
    weight: float
    next: str | None


class Node(Model):
    """One step. `next` is the step after it; a branching node names its branches' first
    steps instead, and the branches' last steps point to the step after the branching."""

    id: str
    kind: Literal["dm", "post", "task", "tag_add", "tag_remove", "invite", "exit", "if", "split", "wait"]
    label: str
    timing: Timing | None = None
    next: str | None = None
    content: str | None = None  # dm, post
    text: str | None = None  # task text, tag name
    group: str | None = None  # invite
    condition: Expr | None = None  # if
    then: str | None = None  # if, wait (the event came)
    otherwise: str | None = None  # if (else), wait (timed out)
    arms: list[Arm] | None = None  # split
    event: str | None = None  # wait
    where: Expr | None = None  # wait
    up_to_minutes: int | None = None  # wait


# ---- flows ------------------------------------------------------------------------------


class Entry(Model):
    kind: Literal["event", "segment", "schedule", "once"]
    event: str | None = None
    where: Expr | None = None
    segment: str | None = None
    schedule: Schedule | None = None
    at: str | None = None  # once: local ISO datetime


class ExitRule(Model):
    kind: Literal["event", "condition"]
    event: str | None = None
    where: Expr | None = None
    condition: Expr | None = None


class Goal(Model):
    event: str
    where: Expr | None = None
    within_minutes: int


class Journey(Model):
    name: str
    entry: Entry
    exits: list[ExitRule] = []
    reenter_after_minutes: int | None = None  # None: never re-enter
    goal: Goal | None = None
    priority: int | float = 0
    start: str | None = None  # first node id (None: a journey without steps, absent from the document)
    nodes: dict[str, Node]


class GroupOpens(Model):
    at: str | None = None  # once: local ISO datetime
    schedule: Schedule | None = None


class Group(Model):
    name: str
    title: str
    members: Expr | None  # None: every contact of the account
    opens: GroupOpens
    lasts_minutes: int
    size: int
    invite: str
    start: str | None
    nodes: dict[str, Node]
    closing: list[str]  # node ids, run just before dissolving


class StandingPost(Model):
    label: str
    schedule: Schedule
    content: str


class Standing(Model):
    """A standing group (docs/language.md §7.2): always open, one chain of numbered groups
    per account (or one shared chain under `owner`), each holding at most `size` members;
    `lapse` (node ids) runs for a member who no longer matches `admit`."""

    name: str
    title: str
    admit: Expr | None = None  # None: anyone invited may join
    owner: str | None = None  # None: one chain per account
    size: int
    invite: str
    posts: list[StandingPost] = []
    lapse: list[str] = []
    nodes: dict[str, Node] = {}


class MomentRule(Model):
    label: str
    schedule: Schedule | None = None
    at: str | None = None
    content: str
    visible: Expr | None = None


class Moments(Model):
    name: str
    rules: list[MomentRule]


class Rotation(Model):
    name: str
    period_days: int
    order_by: str
    descending: bool = False
    time: str
    weekdays: list[int]
    task: str
    members: Expr | None = None


class Escalation(Model):
    """`escalate to ACCOUNT|"role" after D`: a task to a supervisor, D of counted time after
    the level was missed (still unanswered then)."""

    account: str | None = None  # an account id …
    role: str | None = None  # … or a role: the accounts whose `role` field holds it
    after_minutes: int


class Sla(Model):
    name: str
    trigger: str
    answer: str
    within_minutes: int
    during: list[str] | None = None
    remind_minutes: list[int] | None = None  # counted minutes into the allowance; None: one at 80%
    escalations: list[Escalation] | None = None


# ---- content, segments, settings ----------------------------------------------------------


class Placeholder(Model):
    path: str  # "name", "account.name", "event.amount"
    fallback: str | None = None


class Content(Model):
    name: str
    text: str | None = None
    images: list[str] = []
    video: str | None = None
    file: str | None = None
    link: str | None = None
    miniprogram: str | None = None
    page: str | None = None
    title: str | None = None
    desc: str | None = None
    placeholders: list[Placeholder] = []

    @property
    def parts(self) -> list[str]:
        """The kinds of part it carries, for adapters to say what they cannot honour."""
        kinds = [k for k in ("text", "video", "file", "link", "miniprogram") if getattr(self, k)]
        if self.images:
            kinds.append("image")
        return sorted(kinds)


class Segment(Model):
    name: str
    expr: Expr
    uses: list[str]  # segments it refers to


class Limit(Model):
    channel: Literal["dm", "group", "moment", "task", "any"]
    count: int
    scope: Literal["contact", "account"]
    period: Literal["day", "week", "month"]
    action: Literal["defer", "skip"] = "defer"

    @property
    def label(self) -> str:
        return f"limit {self.channel} {self.count} per {self.scope} per {self.period}"


class Quiet(Model):
    start: str
    end: str


class SourceRef(Model):
    file: str
    line: int


class Playbook(Model):
    ir_version: int = IR_VERSION
    version: str = ""
    name: str
    title: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    quiet: Quiet | None = None
    limits: list[Limit] = []
    segments: dict[str, Segment] = {}
    contents: dict[str, Content] = {}
    journeys: dict[str, Journey] = {}
    groups: dict[str, Group] = {}
    standing: dict[str, Standing] | None = None  # None (left out): no standing group
    moments: dict[str, Moments] = {}
    rotations: dict[str, Rotation] = {}
    slas: dict[str, Sla] = {}
    fields: list[str] = []  # contact fields the playbook reads
    events: list[str] = []  # event types the playbook reacts to
    sources: dict[str, SourceRef] = {}  # "journey:新客培育" -> where it is written


def to_doc(model: BaseModel) -> dict[str, Any]:
    """The canonical plain-data form: JSON-ready, absent (None) fields left out."""
    return _without_none(model.model_dump(mode="json"))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def to_json(model: BaseModel, *, indent: int | None = 2) -> str:
    return dumps(to_doc(model), indent=indent)


def version_of(pb: Playbook) -> str:
    return version_of_doc(to_doc(pb))


def load(doc: dict[str, Any]) -> Playbook:
    """The typed view of a compiled playbook (validates the document)."""
    return Playbook.model_validate(doc)


And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()
