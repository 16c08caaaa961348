"""What an adapter can carry and which platform limits it declares.

The engine enforces an adapter's limits ahead of time, across every playbook (they are
platform quotas, not one playbook's choice), so `plan --adapter wecom` shows the same
deferrals the daemon will meet. WeCom's figures are from its external-contact API
documents (docs/adapters/wecom.md): a customer receives at most as many mass messages a
month as the month has days, counting every staff member, and one staff member at most
one a day per customer; a customer group (each group instance) as many posts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playbook.diagnostics import WARNING, Diagnostic
from playbook.i18n import t
from playbook.vocab.limits import LimitRule
from playbook.vocab.reasons import Reason


@dataclass(frozen=True)
class Capabilities:
    # content parts it can carry on each channel (dm, group, moment, task): text, image, link,
    # miniprogram, video, file
    parts: dict[str, frozenset[str]]
    limits: tuple[LimitRule, ...] = ()
    dissolve_groups: bool = True  # False: a staff task asks to dissolve a finished group
    batch_size: int = 1  # recipients one call can take (1: no batching)
    tags: bool = False  # keeps the platform's customer tags in step with the playbooks' tag actions
    # seconds after a friend request in which a greeting can go as the platform's own welcome
    # message (WeCom: the WelcomeCode's 20 s); 0: no such path
    welcome_within: int = 0


ALL_PARTS = frozenset({"text", "image", "link", "miniprogram", "video", "file"})
CHANNELS = ("dm", "group", "moment", "task")
EVERYWHERE = {channel: ALL_PARTS for channel in CHANNELS}


WECOM_WELCOME_WITHIN = 20  # a WelcomeCode's life (92137/92599)
WECOM_TIMEZONE = "Asia/Shanghai"  # WeCom's days, weeks and months (its quota periods): China time
WELCOME_REF = "welcome:"  # how an adapter's ref for a dm sent as the platform's welcome message begins


def wecom_limits(mode: str = "month") -> tuple[LimitRule, ...]:
    """WeCom's mass-message quota per customer; the admin may switch the monthly quota
    to 7 a week or 1 a day. The same quota holds for each customer group (创建企业群发, 92135:
    "每位客户/每个客户群" receive at most that many): a group post counts per group instance
    (each of its chats gets the post once). A greeting sent as the welcome message
    (send_welcome_msg, 92137: its own call, not a 群发 task) spends none of it: a dm tried
    within the WelcomeCode's life after the friend_added that entered its journey is free of
    the per-customer rules (`welcome_free`); the daemon counts it after all when the adapter
    had to send it as a task (runtime.decide.Decider.count_welcomes)."""
    w = WECOM_WELCOME_WITHIN
    daily = LimitRule("dm", 1, "contact", "day", "defer", Reason("wecom_dm_day"), w)
    if mode == "day":
        return (daily, LimitRule("group", 1, "group", "day", "defer", Reason("wecom_post_day")))
    if mode == "week":
        return (
            daily,
            LimitRule("dm", 7, "contact", "week", "defer", Reason("wecom_dm_week"), w),
            LimitRule("group", 7, "group", "week", "defer", Reason("wecom_post_week")),
        )
    return (
        daily,
        LimitRule("dm", "days_in_month", "contact", "month", "defer", Reason("wecom_dm_month"), w),
        LimitRule("group", "days_in_month", "group", "month", "defer", Reason("wecom_post_month")),
    )


BUILTIN: dict[str, Capabilities] = {
    "console": Capabilities(parts=EVERYWHERE),
    "jsonl": Capabilities(parts=EVERYWHERE, batch_size=10_000),
    "webhook": Capabilities(parts=EVERYWHERE, batch_size=100),
    "wecom": Capabilities(
        # Mass messages to customers and to groups take text plus attachments; a customer
        # Moments task takes text with images, a video or a link; tasks reach staff as text
        # app messages.
        parts={
            "dm": ALL_PARTS,
            "group": ALL_PARTS,
            "moment": frozenset({"text", "image", "video", "link"}),
            "task": frozenset({"text"}),
        },
        limits=wecom_limits(),  # the admin's default rule; the adapter's `quota` option picks week or day
        dissolve_groups=False,
        batch_size=10_000,
        tags=True,  # playbook tag actions become corp tags on the customer (mark_tag)
        welcome_within=WECOM_WELCOME_WITHIN,  # send_welcome_msg with the add_external_contact WelcomeCode (92137/92599)
    ),
}


def content_parts(content: dict[str, Any]) -> set[str]:
    """The kinds of part a content (IR form) carries."""
    kinds = {k for k in ("text", "link", "miniprogram", "video", "file") if content.get(k)}
    if content.get("images"):
        kinds.add("image")
    return kinds


def unsupported(doc: dict[str, Any], caps: Capabilities, adapter: str, path: str) -> list[Diagnostic]:
    """What a compiled playbook asks of an adapter that the adapter cannot honour."""
    uses: dict[tuple[str, str], None] = {}  # (content, channel), in order of first use
    for journey in doc.get("journeys", {}).values():
        for node in journey["nodes"].values():
            if node["kind"] == "dm":
                uses[(node["content"], "dm")] = None
    for group in doc.get("groups", {}).values():
        uses[(group["invite"], "dm")] = None
        for node in group["nodes"].values():
            if node["kind"] == "post":
                uses[(node["content"], "group")] = None
    for moments in doc.get("moments", {}).values():
        for rule in moments["rules"]:
            uses[(rule["content"], "moment")] = None
    found: list[Diagnostic] = []
    for (name, channel), _ in uses.items():
        missing = sorted(content_parts(doc["contents"][name]) - caps.parts.get(channel, ALL_PARTS))
        if missing:
            where = doc.get("sources", {}).get(f"content:{name}", {})
            found.append(
                Diagnostic(
                    WARNING,
                    "adapter-part",
                    t(
                        "adapter '{adapter}' cannot carry {parts} in {channel} touches (content '{name}')",
                        adapter=adapter,
                        parts=", ".join(missing),
                        channel=channel,
                        name=name,
                    ),
                    where.get("file", path),
                    where.get("line", 0),
                    0,
                    0,
                    t("these parts will not be sent; use another content for this channel"),
                )  # fmt: skip
            )
    if caps.welcome_within:
        found += _late_welcomes(doc, caps, adapter, path)
    if doc.get("groups") and not caps.dissolve_groups:
        for name in doc["groups"]:
            where = doc.get("sources", {}).get(f"group:{name}", {})
            found.append(
                Diagnostic(
                    WARNING,
                    "adapter-dissolve",
                    t(
                        "adapter '{adapter}' cannot dissolve group '{name}': a staff task will ask for it",
                        adapter=adapter,
                        name=name,
                    ),
                    where.get("file", path),
                    where.get("line", 0),
                )  # fmt: skip
            )
    return found


def _late_welcomes(doc: dict[str, Any], caps: Capabilities, adapter: str, path: str) -> list[Diagnostic]:
    """`on friend_added` journeys whose first step is a dm timed later than the platform's
    welcome window: that greeting cannot go as the welcome message (WeCom: a mass-message task
    the staff member must confirm, spending the customer's quota)."""
    found: list[Diagnostic] = []
    for name, journey in doc.get("journeys", {}).items():
        entries = journey.get("entry")
        entries = entries if isinstance(entries, list) else [entries] if entries else []
        if not any(e.get("kind") == "event" and e.get("event") == "friend_added" for e in entries):
            continue
        first = journey.get("nodes", {}).get(journey.get("start"))
        if not first or first.get("kind") != "dm" or not first.get("timing"):
            continue
        timing = first["timing"]
        if timing.get("kind") == "after" and int(timing.get("minutes", 0)) * 60 <= caps.welcome_within:
            continue
        where = doc.get("sources", {}).get(f"journey:{name}", {})
        found.append(
            Diagnostic(
                WARNING,
                "adapter-welcome",
                t(
                    "journey '{name}' greets new friends later than {adapter}'s welcome message allows "
                    "({seconds} s after the friend request): the greeting becomes a mass-message task",
                    name=name,
                    adapter=adapter,
                    seconds=caps.welcome_within,
                ),
                where.get("file", path),
                where.get("line", 0),
                0,
                0,
                t("write it as the journey's first step without a timing to greet at once"),
            )  # fmt: skip
        )
    return found
