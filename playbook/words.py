"""The operator's words for event types and what the engine records about them, shared by
the plan's timeline (`plan --contact`), `explain` and `report`.

Event types keep their names — they are what playbooks and data files say — and gain a
label in Chinese: `加好友 (friend_added)`. The details the engine records as data
(`reason=completed`, `after_seconds=352800`) become words: "走完了全部步骤", "4天2小时后".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from playbook.i18n import N_, language, t

# Built-in input events (LANGUAGE.md §3) and the engine's own records (StateEvent types).
EVENT_WORDS = {
    "friend_request": N_("friend request"),
    "friend_added": N_("friend added"),
    "message": N_("customer message"),
    "staff_message": N_("staff message"),
    "purchase": N_("purchase"),
    "tag_added": N_("tag added"),
    "tag_removed": N_("tag removed"),
    "joined_group": N_("joined a group"),
    "left_group": N_("left a group"),
    "moment_interaction": N_("Moments interaction"),
    "deleted": N_("deleted us"),
    "contact_updated": N_("contact updated"),
    "enter": N_("entered the journey"),
    "exit": N_("left the journey"),
    "goal": N_("reached the goal"),
    "split": N_("split"),
    "group_opened": N_("group opened"),
    "group_closed": N_("group closed"),
    "sla_started": N_("service clock started"),
    "sla_met": N_("answered in time"),
    "sla_late": N_("answered late"),
    "sla_missed": N_("service level missed"),
    # standing groups (engine/standing.py)
    "group_joined": N_("in the group"),
    "group_left": N_("out of the group"),
    "group_full": N_("group full"),
    "group_lapsed": N_("no longer admitted"),
}

EXIT_REASONS = {
    "completed": N_("finished every step"),
    "exit when": N_("its 'exit when' condition held"),
    "exit step": N_("an 'exit' step"),
    "deleted": N_("the contact deleted us"),
}

_UNITS = ((86400, N_("{n}d")), (3600, N_("{n}h")), (60, N_("{n}m")))


def event_label(kind: str) -> str:
    """`friend_added` in English; `加好友 (friend_added)` in Chinese. Custom event types
    (declared by a playbook) have no label and keep their name alone."""
    words = EVENT_WORDS.get(kind)
    if words is None or language() != "zh":
        return kind
    return f"{t(words)} ({kind})"  # as the issue asks: 加好友 (friend_added)


def span(seconds: int | float) -> str:
    """A duration in words, largest unit first, to the minute: 4d2h, 4天2小时."""
    rest, out = int(seconds), []
    for size, unit in _UNITS:
        if rest >= size:
            out.append(t(unit, n=rest // size))
            rest %= size
    return "".join(out) or t("{n}m", n=0)


def exit_reason(reason: str) -> str:
    if reason in EXIT_REASONS:
        return t(EXIT_REASONS[reason])
    if reason.startswith("exit on "):
        return t("the event {event}", event=event_label(reason.removeprefix("exit on ")))
    return reason


_SKIP = ("deadline", "closes")


def event_details(kind: str, data: Mapping[str, Any]) -> str:
    """What a timeline shows under an event: the engine's records in words; an input
    event's own fields (the operator's names) as `key=value`."""
    data = {k: v for k, v in data.items() if k not in _SKIP}
    parts: list[str] = []
    if kind == "enter" and int(data.get("n", 1) or 1) > 1:
        parts.append(t("entry no. {n}", n=data["n"]))
    elif kind == "exit" and data.get("reason"):
        parts.append(t("why: {reason}", reason=exit_reason(str(data["reason"]))))
    elif kind == "goal":
        if data.get("event"):
            parts.append(t("by {event}", event=event_label(str(data["event"]))))
        if data.get("after_seconds") is not None:
            parts.append(t("{span} after entering", span=span(data["after_seconds"])))
    elif kind == "split":
        parts.append(t("arm {arm}", arm=data.get("arm", "")))
    elif kind in ("tag_added", "tag_removed") and set(data) <= {"tag"}:
        parts.append(t("tag {tag}", tag=data.get("tag", "")))
    elif kind in ("sla_met", "sla_late") and "waited_seconds" in data:
        parts.append(t("answered after {span}", span=span(data["waited_seconds"])))
    elif kind in ("group_opened", "group_closed"):
        parts.append(t("group {group}", group=data.get("title") or data.get("group", "")))
    elif kind in ("group_joined", "group_left", "group_full", "group_lapsed"):
        parts.append(t("group {group}", group=data.get("group", "")))
        if "members" in data:
            parts.append(t("{n} members", n=data["members"]))
    elif kind in ("enter", "sla_started", "sla_missed"):
        pass
    else:
        parts.extend(f"{k}={v}" for k, v in data.items())
    return t("; ").join(parts) if kind in _RECORDS else ", ".join(parts)


# The engine's own records (the rest are input events, whose fields are the operator's).
_RECORDS = {"enter", "exit", "goal", "split", "group_opened", "group_closed", "sla_started", "sla_met", "sla_late",
            "sla_missed", "group_joined", "group_left", "group_full", "group_lapsed"}  # fmt: skip
# One touch's channel, as a timeline's column shows it.
CHANNEL_ONE = {"dm": N_("dm"), "group": N_("group post"), "moment": N_("moment"), "task": N_("task")}


def channel_word(channel: str) -> str:
    return t(CHANNEL_ONE[channel]) if channel in CHANNEL_ONE else channel
