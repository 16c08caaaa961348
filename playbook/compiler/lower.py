"""Declarations → IR (their expressions through expressions.py, their steps through
steps.py). The function named after each kind of declaration (segment, content, journey,
group, standing, moments, rotation, sla) takes the environment (names resolved), the
additions it joins and one declaration, reports what is wrong with it where it is written
(its file, passed on as a `Site`) and carries on with what is usable, so the operator sees
the whole list at once; it returns the declaration's IR (None when it cannot be built)."""

from __future__ import annotations

import zoneinfo

from playbook.compiler import check, resolve
from playbook.compiler.context import Additions, Doc, Env, Site, obj
from playbook.compiler.expressions import expr, where
from playbook.compiler.resolve import Settings
from playbook.compiler.schedules import cron_problem
from playbook.compiler.steps import Graph
from playbook.diagnostics import did_you_mean
from playbook.i18n import t
from playbook.syntax import ast as A
from playbook.vocab.localtime import DEFAULT_TIMEZONE

# WeCom customer groups hold at most 500 members ("外部群最多 500 人",
# https://developer.work.weixin.qq.com/document/path/98429).
DEFAULT_GROUP_SIZE = 500
MAX_GROUP_SIZE = 500
_PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}

# ---- settings ------------------------------------------------------------------------------------


def settings(env: Env, out: Additions, written: Settings) -> dict:
    tz = DEFAULT_TIMEZONE
    timezone = written.timezone
    if timezone is not None:
        tz = timezone.name.value
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = did_you_mean(tz, zoneinfo.available_timezones()) or t(
                "use an IANA name like {example}", example=DEFAULT_TIMEZONE
            )
            Site(env, out, timezone.file).error(
                "timezone", t("unknown timezone '{name}'", name=tz), timezone.span, hint
            )
    quiet_ir = None
    if written.quiet is not None:
        w = written.quiet.window
        if w.start.minutes == w.end.minutes:
            Site(env, out, written.quiet.file).error(
                "quiet", t("the quiet window starts and ends at the same time"), w.span
            )
        quiet_ir = obj(start=str(w.start), end=str(w.end))
    return {
        "title": written.title.text.value if written.title else None,
        "timezone": tz,
        "quiet": quiet_ir,
        "limits": limits(env, out, written.limits),
    }


def limits(env: Env, out: Additions, written: list[A.Limit]) -> list[Doc]:
    lowered: list[Doc] = []
    seen: dict[tuple[str, str, str], A.Limit] = {}
    for lim in written:
        site = Site(env, out, lim.file)
        if lim.count < 1:
            site.error(
                "limit",
                t("a limit must allow at least 1"),
                lim.span,
                t("to send nothing on a channel, remove its steps"),
            )
            continue
        key = (lim.channel, lim.scope, lim.period)
        if key in seen:
            other = seen[key]
            site.error(
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
        lowered.append(
            obj(
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
                Site(env, out, lim.file).warn(
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
    return lowered


# ---- segments ----------------------------------------------------------------------


def segment(env: Env, out: Additions, node: A.Segment) -> Doc:
    uses: list[str] = []
    lowered = expr(Site(env, out, node.file), node.expr, events=False, segment_uses=uses)
    return obj(name=node.name.value, expr=lowered, uses=sorted(set(uses)))


# ---- content -----------------------------------------------------------------------------------------


def content(env: Env, out: Additions, node: A.Content) -> Doc:
    name = node.name.value
    site = Site(env, out, node.file)
    fields: dict[str, object] = {"name": name, "images": []}
    holders: list[Doc] = []
    for part in node.parts:
        key = part.key
        if key == "image":
            fields["images"].append(part.value.value)  # type: ignore[attr-defined]
        elif key in fields:
            site.error("content", t("'{key}' is given twice in content '{name}'", key=key, name=name), part.span)
            continue
        else:
            fields[key] = part.value.value
        holders.extend(resolve.template(site, part.value))
    _check_content_parts(site, node, fields)
    unique = {(p["path"], p.get("fallback")): p for p in holders}
    fields["placeholders"] = [unique[k] for k in sorted(unique, key=lambda k: (k[0], k[1] or ""))]
    return obj(**fields)  # type: ignore[arg-type]


def _check_content_parts(site: Site, node: A.Content, fields: dict[str, object]) -> None:
    """Which parts of a content go together (a link or a mini-program, and what each needs)."""
    name = node.name.value
    if "link" in fields and "miniprogram" in fields:
        site.error(
            "content",
            t("content '{name}' has both a link and a mini-program", name=name),
            node.name.span,
            t("split it into two contents"),
        )
    for key in ("title", "desc"):
        if key in fields and "link" not in fields and "miniprogram" not in fields:
            site.error(
                "content",
                t("'{key}' describes a link or a mini-program, and '{name}' has neither", key=key, name=name),
                node.name.span,
            )
    if "page" in fields and "miniprogram" not in fields:
        site.error(
            "content",
            t("'{key}' belongs to a mini-program, and '{name}' has none", key="page", name=name),
            node.name.span,
        )
    if "miniprogram" in fields:
        for key in ("page", "title"):
            if key not in fields:
                site.error(
                    "content",
                    t("the mini-program in '{name}' needs a '{key}'", name=name, key=key),
                    node.name.span,
                )
    if len(fields) == 2 and not fields["images"]:
        site.error(
            "content",
            t("content '{name}' is empty", name=name),
            node.name.span,
            t("give it a text, an image or a link"),
        )


# ---- schedules ------------------------------------------------------------------------------------------


def schedule(site: Site, s: A.Schedule) -> Doc:
    if isinstance(s, A.EveryDay):
        return obj(kind="weekly", weekdays=list(range(7)), times=_times(s.times))
    if isinstance(s, A.EveryWeekday):
        return obj(kind="weekly", weekdays=[0, 1, 2, 3, 4], times=_times(s.times))
    if isinstance(s, A.EveryWeekend):
        return obj(kind="weekly", weekdays=[5, 6], times=_times(s.times))
    if isinstance(s, A.EveryWeekdays):
        return obj(kind="weekly", weekdays=weekdays(site, s.days), times=_times(s.times))
    if isinstance(s, A.EveryMonth):
        return obj(kind="monthly", days=sorted(set(s.days)), times=_times(s.times))
    if isinstance(s, A.EveryInterval):
        return _interval(site, s)
    assert isinstance(s, A.Cron)
    problem = cron_problem(s.expression.value)
    if problem:
        site.error(
            "cron",
            problem,
            s.expression.span,
            t("for example {example} is 10:00 on weekdays", example='cron "0 10 * * 1-5"'),
        )
    return obj(kind="cron", expr=s.expression.value)


def _interval(site: Site, s: A.EveryInterval) -> Doc:
    if s.every.minutes >= 24 * 60:
        site.error(
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
            site.error("schedule", t("the 'between' window must end after it starts"), s.between.span)
        between = [str(s.between.start), str(s.between.end)]
    return obj(kind="interval", minutes=s.every.minutes, between=between)


def weekdays(site: Site, items: tuple[A.WeekdayItem, ...]) -> list[int]:
    days: set[int] = set()
    for item in items:
        if item.last is None:
            days.add(item.first)
        elif item.last < item.first:
            site.error("schedule", t("a weekday range runs forward, like {example}", example="mon-fri"), item.span)
        else:
            days.update(range(item.first, item.last + 1))
    return sorted(days)


def _times(times: tuple[A.Clock, ...]) -> list[str]:
    return sorted({str(t) for t in times})


# ---- journeys ---------------------------------------------------------------------------------------------


class _JourneyClauses:
    """A journey's clauses before its steps, lowered."""

    def __init__(self) -> None:
        self.entries: list[Doc] = []
        self.exits: list[Doc] = []
        self.reenter: int | None = None
        self.goal: Doc | None = None
        self.priority: int | None = None
        self.by_event = False


def journey(env: Env, out: Additions, j: A.Journey) -> Doc | None:
    site = Site(env, out, j.file)
    name = j.name.value
    clauses = _JourneyClauses()
    steps: list[A.Step] = []
    for m in j.members:
        if isinstance(m, A.Step):
            steps.append(m)
            continue
        if steps:
            site.error(
                "clause-order",
                t("settings of a journey (on, exit, reenter, goal, priority) come before its steps"),
                m.span,
                t("move this line above the first step"),
            )
        _journey_clause(site, name, clauses, m)
    entries = clauses.entries
    if not entries:
        site.error(
            "entry",
            t("journey '{name}' has no entry", name=name),
            j.name.span,
            t("add one of: on EVENT, on enter SEGMENT, every … for SEGMENT, at DATETIME for SEGMENT"),
        )
    elif len(entries) > 1:
        site.error(
            "entry",
            t("journey '{name}' has {count} entries; a journey has exactly one", name=name, count=len(entries)),
            j.name.span,
        )
    if not steps:
        site.warn("empty-journey", t("journey '{name}' has no steps", name=name), j.name.span)
    graph = Graph(site, events=clauses.by_event)
    start = graph.lower(tuple(steps), None)
    for rule in check.JOURNEY_RULES:
        rule(site, j, steps)
    if not entries:
        return None
    return obj(
        name=name,
        entry=entries[0],
        exits=clauses.exits,
        reenter_after_minutes=clauses.reenter,
        goal=clauses.goal,
        priority=clauses.priority or 0,
        start=start,
        nodes=graph.ordered(),
    )


def _journey_clause(site: Site, name: str, c: _JourneyClauses, m: A.JourneyMember) -> None:
    if isinstance(m, A.EntryOn):
        c.by_event = True
        c.entries.append(obj(kind="event", event=resolve.event(site, m.event), where=where(site, m.where, True)))
    elif isinstance(m, A.EntryEnter):
        c.entries.append(obj(kind="segment", segment=resolve.segment_ref(site, m.segment)))
    elif isinstance(m, A.EntrySchedule):
        c.entries.append(
            obj(kind="schedule", schedule=schedule(site, m.schedule), segment=resolve.segment_ref(site, m.segment))
        )
    elif isinstance(m, A.EntryAt):
        c.entries.append(
            obj(kind="once", at=m.at.value.isoformat(timespec="minutes"), segment=resolve.segment_ref(site, m.segment))
        )
    elif isinstance(m, A.ExitOn):
        c.exits.append(obj(kind="event", event=resolve.event(site, m.event), where=where(site, m.where, True)))
    elif isinstance(m, A.ExitWhen):
        c.exits.append(obj(kind="condition", condition=expr(site, m.condition, events=False)))
    elif isinstance(m, A.Reenter | A.Goal | A.Priority):
        _journey_setting(site, name, c, m)


def _journey_setting(site: Site, name: str, c: _JourneyClauses, m: A.Reenter | A.Goal | A.Priority) -> None:
    """`reenter`, `goal`, `priority`: each at most once."""
    word = {A.Reenter: "reenter", A.Goal: "goal", A.Priority: "priority"}[type(m)]
    if {"reenter": c.reenter, "goal": c.goal, "priority": c.priority}[word] is not None:
        site.error(
            "duplicate-clause",
            t("'{clause}' is given twice in journey '{name}'", clause=word, name=name),
            m.span,
        )
    elif isinstance(m, A.Reenter):
        c.reenter = m.after.minutes
    elif isinstance(m, A.Goal):
        c.goal = obj(
            event=resolve.event(site, m.event), where=where(site, m.where, True), within_minutes=m.within.minutes
        )
    else:
        c.priority = m.value


# ---- groups ------------------------------------------------------------------------------------------------


def is_standing(g: A.Group) -> bool:
    """A group without `opens` and `lasts` is a standing group (docs/language.md §7.2)."""
    return not any(isinstance(m, A.OpensOnce | A.OpensSeries | A.Lasts) for m in g.members)


def group(env: Env, out: Additions, g: A.Group) -> Doc | None:
    site = Site(env, out, g.file)
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
            site.error("standing-clause", t("this belongs to a standing group; group '{name}' has 'opens' or "
                                            "'lasts', so it is a short-term group", name=name), m.span,
                       t("leave out 'opens' and 'lasts' for a group that is always open"))  # fmt: skip
        else:
            kind = A.OpensOnce if isinstance(m, A.OpensSeries) else type(m)
            if kind in found:
                site.error("duplicate-clause", t("group '{name}' says this twice", name=name), m.span)
            else:
                found[kind] = m
    missing = _group_missing(site, g, found)
    title = found.get(A.GroupTitle)
    _group_title(site, title)  # type: ignore[arg-type]
    members = found.get(A.GroupMembers)
    opens = found.get(A.OpensOnce)
    lasts = found.get(A.Lasts)
    size = found.get(A.Size)
    invite = found.get(A.GroupInvite)
    invite_name = resolve.content_ref(site, invite.content, with_event=False) if invite else ""  # type: ignore[union-attr]
    if invite is not None:
        site.sends_first(invite.span)
    if size is not None and size.value < 2:  # type: ignore[union-attr]
        site.error("group-size", t("a group needs room for at least 2 members"), size.span)
    graph = Graph(site, events=False, group=True)
    start = graph.lower(tuple(steps), None)
    closing_ids = [graph.lower((s,), None) for s in closing]
    if missing:
        return None
    opens_ir = (
        obj(at=opens.at.value.isoformat(timespec="minutes"))  # type: ignore[union-attr]
        if isinstance(opens, A.OpensOnce)
        else obj(schedule=schedule(site, opens.schedule))  # type: ignore[union-attr]
    )
    return obj(
        name=name,
        title=title.text.value if title else name,  # type: ignore[union-attr]
        members=expr(site, members.expr, events=False) if members else None,  # type: ignore[union-attr]
        opens=opens_ir,
        lasts_minutes=lasts.duration.minutes,  # type: ignore[union-attr]
        size=int(size.value) if size else DEFAULT_GROUP_SIZE,  # type: ignore[union-attr]
        invite=invite_name,
        start=start,
        nodes=graph.ordered(),
        closing=[c for c in closing_ids if c],
    )


def _group_missing(site: Site, g: A.Group, found: dict[type, A.GroupMember]) -> list[str]:
    """The clauses a short-term group needs and lacks, each an error."""
    name = g.name.value
    missing = [
        w for kind, w in ((A.OpensOnce, "opens"), (A.Lasts, "lasts"), (A.GroupInvite, "invite")) if kind not in found
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
        site.error("group-" + word, t("group '{name}' has no '{clause}'", name=name, clause=word), g.name.span, hint)
    return missing


def _group_title(site: Site, title: A.GroupTitle | None) -> None:
    if title is not None:
        resolve.template(site, title.text)
        resolve.text_without_event(site, title.text)


def standing(env: Env, out: Additions, g: A.Group) -> Doc | None:
    """A group without `opens` and `lasts` (docs/language.md §7.2): always open, entered by invitation."""
    site = Site(env, out, g.file)
    name = g.name.value
    found: dict[type, A.GroupMember] = {}
    posts: list[Doc] = []
    lapse: list[A.Step] = []
    for m in g.members:
        if isinstance(m, A.GroupEvery):
            content_name = resolve.content_ref(site, m.content, with_event=False)
            label = f"{schedule_text(m.schedule)}: post {content_name}"
            posts.append(obj(label=label, schedule=schedule(site, m.schedule), content=content_name))
        elif isinstance(m, A.Lapse):
            if isinstance(m.action, A.Dm | A.Task | A.TagAdd | A.TagRemove):
                lapse.append(A.Step(None, m.action, m.span))
            else:
                site.error("standing-lapse", t("'when not admitted' can send a dm, create a task or change a "
                                               "tag"), m.action.span)  # fmt: skip
        elif isinstance(m, A.Step | A.Closing | A.GroupMembers):
            _not_standing(site, name, m)
        elif type(m) in found:
            site.error("duplicate-clause", t("group '{name}' says this twice", name=name), m.span)
        else:
            found[type(m)] = m
    invite = found.get(A.GroupInvite)
    if invite is None:
        site.error("group-invite", t("group '{name}' has no '{clause}'", name=name, clause="invite"), g.name.span,
                   t("name the content sent to invite each member, for example: {example}",
                     example="invite VIP邀请"))  # fmt: skip
    else:
        site.sends_first(invite.span)
    title = found.get(A.GroupTitle)
    _group_title(site, title)  # type: ignore[arg-type]
    size = found.get(A.Size)
    if size is not None and not 2 <= size.value <= MAX_GROUP_SIZE:  # type: ignore[union-attr]
        site.error("group-size", t("a customer group holds 2 to {most} members", most=MAX_GROUP_SIZE), size.span,
                   t("WeCom customer groups hold at most 500; a full group overflows into the next one"))  # fmt: skip
    admit = found.get(A.Admit)
    owner = found.get(A.Owner)
    invite_name = resolve.content_ref(site, invite.content, with_event=False) if invite else ""  # type: ignore[union-attr]
    graph = Graph(site, events=False)
    lapse_ids = [graph.lower((s,), None) for s in lapse]
    if invite is None:
        return None
    return obj(
        name=name,
        title=title.text.value if title else name,  # type: ignore[union-attr]
        admit=expr(site, admit.expr, events=False) if admit else None,  # type: ignore[union-attr]
        owner=owner.account.value if owner else None,  # type: ignore[union-attr]
        size=int(size.value) if size else DEFAULT_GROUP_SIZE,  # type: ignore[union-attr]
        invite=invite_name,
        posts=posts,
        lapse=[i for i in lapse_ids if i],
        nodes=graph.ordered(),
    )


def _not_standing(site: Site, name: str, m: A.Step | A.Closing | A.GroupMembers) -> None:
    word = "members" if isinstance(m, A.GroupMembers) else "closing" if isinstance(m, A.Closing) else ""
    site.error(
        "standing-clause",
        t("group '{name}' is a standing group (no 'opens' or 'lasts'): it has no {what}", name=name,
          what=t("opening to count days from") if not word else f"'{word}'"),
        m.span,
        t("a short-term group needs 'opens' and 'lasts'; a standing group admits with {admit} and posts on a "
          "schedule: {every}", admit="admit in VIP",
          every="every wed at 20:00: post 会员价"),
    )  # fmt: skip


# ---- Moments, rotations, SLAs ------------------------------------------------------------------------------


def moments(env: Env, out: Additions, m: A.Moments) -> Doc:
    site = Site(env, out, m.file)
    rules = []
    for r in m.rules:
        content_name = resolve.content_ref(site, r.content, with_event=False)
        visible = expr(site, r.visible, events=False) if r.visible is not None else None
        label = f"{_when_label(r.when)}: post {content_name}"
        if isinstance(r.when, A.DateTimeLit):
            rules.append(
                obj(label=label, at=r.when.value.isoformat(timespec="minutes"), content=content_name, visible=visible)
            )
        else:
            rules.append(obj(label=label, schedule=schedule(site, r.when), content=content_name, visible=visible))
    if not rules:
        site.warn("empty-moments", t("Moments calendar '{name}' posts nothing", name=m.name.value), m.name.span)
    result = obj(name=m.name.value, rules=rules)
    for rule in check.MOMENTS_RULES:
        rule(site, m, result)
    return result


def rotation(env: Env, out: Additions, r: A.Rotate) -> Doc | None:
    site = Site(env, out, r.file)
    name = r.name.value
    found: dict[type, A.RotateMember] = {}
    for m in r.members:
        if type(m) in found:
            site.error("duplicate-clause", t("rotation '{name}' says this twice", name=name), m.span)
        found[type(m)] = m
    missing = [
        w for kind, w in ((A.RotateEach, "each contact every"), (A.RotateAt, "at"), (A.RotateTask, "task"))
        if kind not in found
    ]  # fmt: skip
    for word in missing:
        site.error(
            "rotate",
            t("rotation '{name}' has no '{clause}'", name=name, clause=word),
            r.name.span,
            t("for example: {example}", example='each contact every 30d / at 10:00 on mon-fri / task "…"'),
        )
    each = found.get(A.RotateEach)
    if each is not None and each.period.minutes % (24 * 60):  # type: ignore[union-attr]
        site.error(
            "rotate",
            t("a rotation period is a whole number of days, like {example}", example="30d"),
            each.period.span,  # type: ignore[union-attr]
        )
    order = found.get(A.RotateOrder)
    order_by = "added_at"
    if order is not None:
        order_by = resolve.contact_field(site, order.field, False)  # type: ignore[union-attr]
    task = found.get(A.RotateTask)
    if task is not None:
        resolve.template(site, task.text)  # type: ignore[union-attr]
        resolve.text_without_event(site, task.text)  # type: ignore[union-attr]
    at = found.get(A.RotateAt)
    members = found.get(A.RotateMembers)
    if missing:
        return None
    days = weekdays(site, at.days) if at.days else list(range(7))  # type: ignore[union-attr]
    return obj(
        name=name,
        period_days=max(each.period.minutes // (24 * 60), 1),  # type: ignore[union-attr]
        order_by=order_by,
        descending=bool(order and order.descending),  # type: ignore[union-attr]
        time=str(at.clock),  # type: ignore[union-attr]
        weekdays=days,
        task=task.text.value,  # type: ignore[union-attr]
        members=expr(site, members.expr, events=False) if members else None,  # type: ignore[union-attr]
    )


def sla(env: Env, out: Additions, s: A.Sla) -> Doc:
    site = Site(env, out, s.file)
    during = None
    if s.during is not None:
        if s.during.end.minutes <= s.during.start.minutes:
            site.error(
                "sla", t("the 'during' window must end after it starts (it cannot wrap midnight)"), s.during.span
            )
        during = [str(s.during.start), str(s.during.end)]
    return obj(
        name=s.name.value,
        trigger=resolve.event(site, s.trigger),
        answer=resolve.event(site, s.answer),
        within_minutes=s.within.minutes,
        during=during,
        remind_minutes=_sla_reminders(site, s),
        escalations=_sla_escalations(site, s),
    )


def _sla_reminders(site: Site, s: A.Sla) -> list[int] | None:
    """`remind at D` clauses: each inside the allowance, in increasing order, none twice.
    None when there are none (the default reminder at 80% of the allowance)."""
    reminders = [m for m in s.members if isinstance(m, A.SlaRemind)]
    previous: A.SlaRemind | None = None
    for m in reminders:
        if m.at.minutes >= s.within.minutes:
            site.error("sla-remind", t("a reminder at {at} is not inside the allowance of {within}",
                                       at=m.at.text, within=s.within.text), m.at.span,
                       t("remind at a duration shorter than {within}", within=s.within.text))  # fmt: skip
        elif previous is not None and m.at.minutes == previous.at.minutes:
            site.error("sla-remind", t("a reminder at {at} is written twice", at=m.at.text), m.at.span)
        elif previous is not None and m.at.minutes < previous.at.minutes:
            site.error("sla-remind", t("reminders must come in increasing order: {at} after {previous}",
                                       at=m.at.text, previous=previous.at.text), m.at.span)  # fmt: skip
        previous = m
    return [m.at.minutes for m in reminders] or None


def _sla_escalations(site: Site, s: A.Sla) -> list[Doc] | None:
    """`escalate to ACCOUNT|"role" after D` clauses, each later than the one before; the
    account or role checked against the accounts when they are known."""
    escalations: list[Doc] = []
    previous: A.SlaEscalate | None = None
    for m in (x for x in s.members if isinstance(x, A.SlaEscalate)):
        if previous is not None and m.after.minutes <= previous.after.minutes:
            site.error("sla-escalate", t("escalations must come in increasing order: after {after} follows "
                                         "after {previous}", after=m.after.text, previous=previous.after.text),
                       m.after.span)  # fmt: skip
        previous = m
        if isinstance(m.target, A.Name):
            resolve.account(site, m.target)
            escalations.append(obj(account=m.target.value, after_minutes=m.after.minutes))
        else:
            resolve.role(site, m.target)
            escalations.append(obj(role=m.target.value, after_minutes=m.after.minutes))
    return escalations or None


# ---- labels ------------------------------------------------------------------------------------------------


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
