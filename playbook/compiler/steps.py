"""A sequence of steps → IR nodes with explicit successors (a journey's, a group's closing
posts, a standing group's lapse steps); the checks on a sequence run as it is lowered
(check.STEPS_RULES)."""

from __future__ import annotations

from playbook.compiler import check, resolve
from playbook.compiler.context import Doc, Site, obj
from playbook.compiler.describe import expr_text
from playbook.compiler.expressions import expr, where
from playbook.i18n import t
from playbook.syntax import ast as A


def _timing_label(timing: A.Timing | None) -> str:
    if timing is None:
        return ""
    if isinstance(timing, A.After):
        return f"after {timing.duration.text or timing.duration.minutes}: "
    if isinstance(timing, A.AtTime):
        return f"at {timing.clock}: "
    return f"day {timing.day} at {timing.clock}: "


def _timing(timing: A.Timing | None) -> Doc | None:
    if timing is None:
        return None
    if isinstance(timing, A.After):
        return obj(kind="after", minutes=timing.duration.minutes)
    if isinstance(timing, A.AtTime):
        return obj(kind="at", time=str(timing.clock))
    return obj(kind="day", day=timing.day, time=str(timing.clock))


def _arm_name(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"A{i}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ---- steps ------------------------------------------------------------------------------------------------


class Graph:
    """Lowers a sequence of steps into nodes with explicit successors (a journey's, or a
    group's); SITE is the declaration's, EVENTS whether an event is at hand, GROUP whether
    the steps run in a group (they can only post there or create a task)."""

    def __init__(self, site: Site, *, events: bool, group: bool = False):
        self.site = site
        self.events = events
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
        for rule in check.STEPS_RULES:
            rule(self.site, steps)
        for i, step in enumerate(steps):
            nxt = ids[i + 1] if i + 1 < len(steps) else follow
            self.nodes[ids[i]] = self._node(ids[i], step, nxt)
        return ids[0] if ids else follow

    def _node(self, node_id: str, step: A.Step, nxt: str | None) -> Doc:
        a = step.action
        site = self.site
        if self.group and not isinstance(a, A.Post | A.Task):
            site.error("group-action", t("steps in a group can only post into the group or create a task"), a.span)
        if isinstance(a, A.Post) and not self.group:
            site.error(
                "post",
                t("'{keyword}' is for groups and Moments", keyword="post"),
                a.span,
                t("to message one contact, use: {example}", example="dm " + a.content.value),
            )
        if isinstance(a, A.Dm | A.Invite):
            site.sends_first(a.span)
        label = _timing_label(step.timing)
        common = {"id": node_id, "timing": _timing(step.timing)}
        lower_action = _ACTIONS.get(type(a))
        if lower_action is not None:
            return lower_action(self, a, label, nxt, common)
        if isinstance(a, A.ExitStep):
            return obj(kind="exit", label=f"{label}exit", next=None, **common)
        kind = "tag_add" if isinstance(a, A.TagAdd) else "tag_remove"
        word = "add" if kind == "tag_add" else "remove"
        return obj(kind=kind, label=f'{label}tag {word} "{a.tag.value}"', next=nxt, text=a.tag.value, **common)  # type: ignore[union-attr]

    def _message(self, a: A.Dm | A.Post, label: str, nxt: str | None, common: Doc) -> Doc:
        kind = "dm" if isinstance(a, A.Dm) else "post"
        content_name = resolve.content_ref(self.site, a.content, with_event=self.events)
        return obj(kind=kind, label=f"{label}{kind} {content_name}", next=nxt, content=content_name, **common)

    def _task(self, a: A.Task, label: str, nxt: str | None, common: Doc) -> Doc:
        resolve.template(self.site, a.text)
        if not self.events:
            resolve.text_without_event(self.site, a.text)
        return obj(kind="task", label=f'{label}task "{a.text.value}"', next=nxt, text=a.text.value, **common)

    def _invite(self, a: A.Invite, label: str, nxt: str | None, common: Doc) -> Doc:
        resolve.known(self.site, "group", a.group)
        return obj(kind="invite", label=f"{label}invite {a.group.value}", next=nxt, group=a.group.value, **common)

    def _if(self, a: A.If, label: str, nxt: str | None, common: Doc) -> Doc:
        condition = expr(self.site, a.condition, events=self.events)
        branches = self._branches(a.then, a.otherwise, nxt)
        return obj(kind="if", label=f"{label}if {expr_text(condition)}", condition=condition, **branches, **common)

    def _split(self, a: A.Split, label: str, nxt: str | None, common: Doc) -> Doc:
        total = sum(arm.weight for arm in a.arms)
        if abs(total - 100) > 1e-9:
            self.site.error(
                "split-weights",
                t("the arms of this split add up to {total}%, not 100%", total=_num(total)),
                a.span,
                t("make the percentages add up to 100"),
            )
        for arm in a.arms:
            if arm.weight <= 0:
                self.site.error("split-weights", t("an arm needs a share above 0%"), arm.span)
        arms = [
            obj(name=_arm_name(i), weight=float(arm.weight), next=self.lower(arm.steps, nxt))
            for i, arm in enumerate(a.arms)
        ]
        return obj(kind="split", label=f"{label}split", arms=arms, **common)

    def _wait(self, a: A.Wait, label: str, nxt: str | None, common: Doc) -> Doc:
        event = resolve.event(self.site, a.event)
        where_ir = where(self.site, a.where, True)
        branches = self._branches(a.then, a.otherwise, nxt)
        label = f"{label}wait for {event} up to {a.up_to.text or a.up_to.minutes}"
        return obj(
            kind="wait", label=label, event=event, where=where_ir, up_to_minutes=a.up_to.minutes, **branches, **common
        )

    def _branches(self, then: tuple[A.Step, ...] | None, otherwise: tuple[A.Step, ...] | None, nxt: str | None) -> Doc:
        """The first node of each branch (`then`, `otherwise`), both continuing to NXT."""
        return {"then": self.lower(then or (), nxt), "otherwise": self.lower(otherwise or (), nxt)}


# a step's action class -> how Graph lowers it (exit and tag steps need no more than their words)
_ACTIONS = {
    A.Dm: Graph._message,
    A.Post: Graph._message,
    A.Task: Graph._task,
    A.Invite: Graph._invite,
    A.If: Graph._if,
    A.Split: Graph._split,
    A.Wait: Graph._wait,
}
