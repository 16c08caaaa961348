"""The checks that look at more than one clause: each a function, listed in a rules table
by what it looks at (as sqlglot's optimizer lists its rules).

- STEPS_RULES: one sequence of steps (run as lower.Graph lowers it);
- JOURNEY_RULES: one journey's steps (run as the journey is lowered, so that the language
  server's memo replays them with its lowering);
- MOMENTS_RULES: one Moments calendar and its IR;
- PLAYBOOK_RULES: the whole playbook once every declaration is lowered, in this order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from playbook.compiler.context import BUILTIN_FIELDS, Additions, Doc, Env, Site
from playbook.compiler.schedules import cron_problem
from playbook.diagnostics import did_you_mean
from playbook.i18n import t
from playbook.syntax import ast as A

# ---- one sequence of steps ---------------------------------------------------------------------


def unreachable_step(site: Site, steps: tuple[A.Step, ...]) -> None:
    for i, step in enumerate(steps):
        if isinstance(step.action, A.ExitStep) and i + 1 < len(steps):
            site.warn(
                "unreachable-step",
                t("this step can never run: the step before it exits the journey"),
                steps[i + 1].span,
            )


def day_backwards(site: Site, steps: tuple[A.Step, ...]) -> None:
    last_day = -1
    for step in steps:
        if isinstance(step.timing, A.DayAt):
            if step.timing.day < last_day:
                site.warn(
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


STEPS_RULES: tuple[Callable[[Site, tuple[A.Step, ...]], None], ...] = (unreachable_step, day_backwards)

# ---- one journey --------------------------------------------------------------------------------


def split_without_goal(site: Site, journey: A.Journey, steps: list[A.Step]) -> None:
    if any(isinstance(m, A.Goal) for m in journey.members):
        return
    for step in walk(steps):
        if isinstance(step.action, A.Split):
            site.warn(
                "split-without-goal",
                t("this split has no goal to measure which arm works better"),
                step.action.span,
                t("add a goal to the journey, e.g. {example}", example="goal purchase within 14d"),
            )
            return


_NEVER = 10**9  # a path that has exited
_SPAM_WINDOW = 3 * 24 * 60  # minutes: the first 3 days


def spam_dm(site: Site, journey: A.Journey, steps: list[A.Step]) -> None:
    """More than 3 dm in a contact's first 3 days. Worst case: the contact enters at 00:00 of
    day 0, events come at once."""
    worst: list[A.Step] = []
    for _, sent in _dm_paths(steps, 0, []):
        if len(sent) > len(worst):
            worst = sent
    if len(worst) > 3:
        site.warn(
            "spam-dm",
            t(
                "journey '{name}' can send {count} dm to one contact in its first 3 days",
                name=journey.name.value,
                count=len(worst),
            ),
            worst[3].span,
            t("more than 3 in 3 days reads as spam (刷屏); space them out"),
        )


def _dm_paths(seq: tuple[A.Step, ...] | list[A.Step], start: int, sent: list[A.Step]) -> list[tuple[int, list[A.Step]]]:
    """(minute reached, dm sent in the window) of the paths through SEQ; per distinct dm
    count only the earliest time is kept, which keeps the search small."""
    paths = [(start, list(sent))]
    for step in seq:
        new_paths: list[tuple[int, list[A.Step]]] = []
        for t0, s0 in paths:
            new_paths += _step_paths(step, t0, s0)
        best: dict[int, tuple[int, list[A.Step]]] = {}
        for t2, s2 in new_paths:
            if len(s2) not in best or t2 < best[len(s2)][0]:
                best[len(s2)] = (t2, s2)
        paths = list(best.values())
    return paths


def _step_paths(step: A.Step, t0: int, s0: list[A.Step]) -> list[tuple[int, list[A.Step]]]:
    if t0 == _NEVER:
        return [(t0, s0)]
    t1 = _advance(t0, step.timing)
    a = step.action
    if isinstance(a, A.Dm):
        return [(t1, s0 + [step] if t1 < _SPAM_WINDOW else s0)]
    if isinstance(a, A.If):
        return _dm_paths(a.then, t1, s0) + _dm_paths(a.otherwise or (), t1, s0)
    if isinstance(a, A.Split):
        return [p for arm in a.arms for p in _dm_paths(arm.steps, t1, s0)]
    if isinstance(a, A.Wait):
        return _dm_paths(a.then or (), t1, s0) + _dm_paths(a.otherwise or (), t1 + a.up_to.minutes, s0)
    if isinstance(a, A.ExitStep):
        return [(_NEVER, s0)]
    return [(t1, s0)]


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


def walk(steps: Iterable[A.Step]) -> Iterator[A.Step]:
    """Every step, nested ones included, in source order."""
    for step in steps:
        yield step
        a = step.action
        if isinstance(a, A.If):
            yield from walk(a.then)
            yield from walk(a.otherwise or ())
        elif isinstance(a, A.Split):
            for arm in a.arms:
                yield from walk(arm.steps)
        elif isinstance(a, A.Wait):
            yield from walk(a.then or ())
            yield from walk(a.otherwise or ())


JOURNEY_RULES: tuple[Callable[[Site, A.Journey, list[A.Step]], None], ...] = (split_without_goal, spam_dm)

# ---- one Moments calendar ------------------------------------------------------------------------


def moments_crowded(site: Site, node: A.Moments, moments: Doc) -> None:
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
        site.warn(
            "moments-crowded",
            t("Moments calendar '{name}' posts up to {count} times on some days", name=node.name.value, count=most),
            node.name.span,
            t("more than 3 posts a day crowd friends' feeds; spread them out"),
        )


MOMENTS_RULES: tuple[Callable[[Site, A.Moments, Doc], None], ...] = (moments_crowded,)

# ---- the whole playbook -----------------------------------------------------------------------------


@dataclass
class Lowered:
    """What the playbook rules look at besides the environment: the settings' IR and the
    journeys' and segments' IR (None where a declaration could not be lowered)."""

    settings: dict[str, Any]
    segments: dict[str, Doc]
    journeys: dict[str, Doc | None]


def segment_cycles(env: Env, out: Additions, lowered: Lowered) -> None:
    segments = lowered.segments
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
                    node = env.tables["segment"][dep].node
                    Site(env, out, node.file).error(
                        "segment-cycle",
                        t("segment '{name}' refers to itself: {cycle}", name=dep, cycle=" → ".join(cycle)),
                        node.name.span,
                        t("a segment cannot be defined in terms of itself"),
                    )
            elif state.get(dep) is None:
                visit(dep, path + [dep])
        state[name] = 2

    for name in segments:
        if state.get(name) is None:
            visit(name, [name])


def unused_contents(env: Env, out: Additions, lowered: Lowered) -> None:
    for name, decl in env.tables["content"].items():
        if name not in out.used_contents:
            node = decl.node
            Site(env, out, node.file).warn("unused", t("content '{name}' is never sent", name=name), node.name.span)


def unknown_fields(env: Env, out: Additions, lowered: Lowered) -> None:
    if env.known_fields is None:
        return
    known = env.known_fields | set(BUILTIN_FIELDS)
    for field, (file, span) in sorted(out.fields_used.items()):
        if field not in known:
            alias = env.field_aliases.get(field)
            hint = t("the column '{column}' is read as the field '{field}': write {field}", column=field,
                     field=alias) if alias else did_you_mean(field, known)  # fmt: skip
            Site(env, out, file).warn(
                "unknown-field",
                t("no contact in the data has a field '{name}'", name=field),
                span,
                hint or t("known fields: {fields}", fields=", ".join(sorted(known))),
            )


def no_quiet_hours(env: Env, out: Additions, lowered: Lowered) -> None:
    if lowered.settings["quiet"] is None and out.first_dm is not None:
        file, span = out.first_dm
        Site(env, out, file).warn(
            "no-quiet-hours",
            t("this playbook sends 1-on-1 messages but sets no quiet hours"),
            span,
            t("add a line like: {example}", example="quiet 22:00-08:00"),
        )


def welcome_quiet_hours(env: Env, out: Additions, lowered: Lowered) -> None:
    """The choice made for an immediate reply to a friend request (docs/language.md §12):
    quiet hours hold it like every other touch. An `on friend_added` journey whose first
    step is an untimed dm is told so: friends added at night are greeted when the quiet
    hours end (then no longer as the platform's welcome message). Advice: only once the
    playbook compiles."""
    quiet = lowered.settings["quiet"]
    if quiet is None or out.has_errors:
        return
    for name, decl in env.tables["journey"].items():
        journey = lowered.journeys.get(name)
        if not journey:
            continue
        entries = journey.get("entry")
        entries = entries if isinstance(entries, list) else [entries] if entries else []
        if not any(e.get("kind") == "event" and e.get("event") == "friend_added" for e in entries):
            continue
        first = journey.get("nodes", {}).get(journey.get("start"))
        if not first or first.get("kind") != "dm" or first.get("timing"):
            continue
        step = next((m for m in decl.node.members if isinstance(m, A.Step)), None)  # type: ignore[union-attr]
        if step is None:
            continue
        Site(env, out, decl.node.file).warn(
            "welcome-quiet-hours",
            t("friends added during quiet hours ({start}-{end}) are greeted when the quiet hours end, not at once",
              start=quiet["start"], end=quiet["end"]),
            step.span,
            t("quiet hours hold a reply to a friend request too; keep it so and silence this with "
              "'# ignore: welcome-quiet-hours', or narrow the quiet window"),
        )  # fmt: skip


PLAYBOOK_RULES: tuple[Callable[[Env, Additions, Lowered], None], ...] = (
    segment_cycles,
    unused_contents,
    unknown_fields,
    no_quiet_hours,
    welcome_quiet_hours,
)
