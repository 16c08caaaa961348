"""`--simulate reply=0.3,purchase=0.05,friend_added=30/day,…`: forecast with events drawn
from probabilities and rates.

Each draw is seeded by (seed, what it is drawn for, what is drawn), so the same inputs
always give the same events, whatever order the engine happens to process in. A rate's
times, accounts and sources do not move when another key is added (the new contacts' ids
are numbered in time order across the friend_added keys, and a contact drawn for an event
may be one of another key's new contacts).

**Probabilities** (`KEY=P`, 0 ≤ P ≤ 1) — reactions to what the plan sends:

| key | after each … | the contact … | when |
|---|---|---|---|
| reply | dm that goes out | writes back (`message`) | 10 min – 6 h later |
| purchase | dm that goes out | buys (`purchase`, amount = its average order, else 100) | 1 h – 3 days later |
| delete | dm that goes out | removes or blocks us (`deleted`) | 1 h – 1 day later |
| interaction | Moments post | likes or comments (`moment_interaction`), each contact who sees it | 10 min – 12 h later |

**Rates** (`TYPE=N/day` or `TYPE[FIELD=VALUE,…]=N/day`, N ≥ 0, fractional allowed) — events
that arrive on their own, N a day (TYPE may be a Chinese name: `加好友=30/day`):

| type | who | the event carries |
|---|---|---|
| friend_added | a new contact: id `sim-0001`, … (another prefix when the data has such ids), a name, the account and source below | `account`, `name`, `source`, the bracket's fields |
| message, purchase, joined_group, left_group, moment_interaction, deleted, tag_added, tag_removed | a contact drawn at random from the contacts at the plan's start and the new contacts drawn before the event | the bracket's fields; `purchase`: `amount` = the contact's average order, else 100; `deleted`: `by` = customer; `tag_added`/`tag_removed` need `[tag=…]` |

Not drawn at a rate: `friend_request` (its answer is the staff's), `staff_message`,
`contact_updated` (they say nothing without their data).

- **How many a day.** Day d of the horizon (local dates from the start's) gets
  ⌊N·(d+1)+φ⌋ − ⌊N·d+φ⌋ events, φ ∈ [0, 1) drawn once per key: N whole gives N every day,
  0.5/day one every other day; over D days ⌊N·D⌋ or ⌈N·D⌉ in all. Events before the start
  or at/after the end are dropped (a plan starting at noon keeps the afternoon's).
- **When.** Spread over 08:00–22:00 local time: the day's k-th of n events falls at a
  random second of the k-th n-th of that window.
- **Account** (friend_added): `[account=…]`, else one of the staff accounts (the accounts
  file's and the contacts' own) drawn at random — as a multi-member 「联系我」 QR code
  (`add_contact_way` type 2, several `user`) connects each customer to one of its members;
  the WeCom document does not say which (https://developer.work.weixin.qq.com/document/path/96311).
  The daemon takes the account from the callback's UserID (adapters/wecom/callbacks.py).
- **Source** (friend_added): `[source=…]`, else one of the sources the playbooks' `on
  friend_added where event.source == …` (or `in [...]`) entries name, drawn at random —
  so `friend_added=30/day` fills a new-customer journey; none named: no source. Several
  keys mix channels: `friend_added[source=门店二维码]=20/day,friend_added[source=直播间]=10/day`.
- Other bracket fields are typed as a CSV cell is (`amount=299` a number) and set on the
  event (friend_added: on the new contact).

A plan that draws at a rate is made in one process (the draws need every contact).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.eventnames import canonical_event
from playbook.i18n import t
from playbook.vocab.model import DEFERRED, OK, Event, Touch

if TYPE_CHECKING:
    from playbook.compiler import ir
    from playbook.engine.core import Contacts, Engine
    from playbook.vocab.localtime import LocalTime

# key -> (event type, trigger channel, min delay s, max delay s)
KINDS = {
    "reply": ("message", "dm", 600, 6 * 3600),
    "purchase": ("purchase", "dm", 3600, 3 * 86400),
    "delete": ("deleted", "dm", 3600, 86400),
    "interaction": ("moment_interaction", "moment", 600, 12 * 3600),
}


NEW_CONTACTS = "friend_added"
# the event types a rate draws for contacts already there (docstring's table)
ON_CONTACTS = ("message", "purchase", "joined_group", "left_group", "moment_interaction", "deleted", "tag_added",
               "tag_removed")  # fmt: skip
RATE_TYPES = (NEW_CONTACTS, *ON_CONTACTS)
NEEDED_FIELDS = {"tag_added": "tag", "tag_removed": "tag"}
PER_DAY = "/day"
WINDOW = (8 * 3600, 22 * 3600)  # the local hours the day's arrivals are spread over: 08:00–22:00


@dataclass(frozen=True)
class Arrival:
    """`TYPE[FIELD=VALUE,…]=RATE/day`: events of TYPE arriving on their own, RATE a day."""

    type: str
    fields: tuple[tuple[str, str], ...]  # the bracket's, as written (typed when drawn)
    rate: float

    @property
    def key(self) -> str:
        """How it is written back (and what its draws are seeded by): friend_added[source=门店二维码]."""
        if not self.fields:
            return self.type
        return f"{self.type}[{','.join(f'{k}={v}' for k, v in self.fields)}]"


@dataclass(frozen=True)
class Simulation:
    odds: dict[str, float]  # reactions: key -> probability
    arrivals: tuple[Arrival, ...]  # rates


def parse_simulate(text: str | None) -> dict[str, float]:
    """'reply=0.3,purchase=0.05' -> {'reply': 0.3, 'purchase': 0.05} (the probabilities)."""
    return parse_simulation(text).odds


def parse_simulation(text: str | None) -> Simulation:
    """'reply=0.3,friend_added[source=门店二维码]=30/day' -> the probabilities and the rates."""
    odds: dict[str, float] = {}
    arrivals: list[Arrival] = []
    for part in _parts(text or ""):
        key, value = _key_value(part)
        if value.replace(" ", "").endswith(PER_DAY):
            arrivals.append(_arrival(part, key, value))
        else:
            odds.update([_odds(part, key, value)])
    return Simulation(odds, tuple(arrivals))


def _fail(message: str) -> PlaybookError:
    return PlaybookError([Diagnostic(ERROR, "option", message)])


def _parts(text: str) -> list[str]:
    """The comma-separated parts, a bracket's commas kept inside it."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth <= 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return parts if text.strip() else []


def _key_value(part: str) -> tuple[str, str]:
    """'friend_added[source=x]=30/day' -> ('friend_added[source=x]', '30/day'): split at the
    last '=' outside the brackets."""
    close = part.rfind("]")
    cut = part.find("=", close + 1) if close >= 0 else part.find("=")
    if cut < 0:
        return part, ""
    return part[:cut].strip(), part[cut + 1 :].strip()


def _odds(part: str, key: str, value: str) -> tuple[str, float]:
    if key not in KINDS:
        raise _fail(t("--simulate: '{part}' — use KEY=PROBABILITY with KEY one of {keys}",
                      part=part, keys=", ".join(KINDS)))  # fmt: skip
    try:
        p = float(value)
    except ValueError:
        p = -1.0
    if not 0 <= p <= 1:
        raise _fail(t("--simulate: the probability for {key} must be a number from 0 to 1", key=key))
    return key, p


def _arrival(part: str, key: str, value: str) -> Arrival:
    name, bracket, rest = key.partition("[")
    kind = canonical_event(name.strip())
    if kind not in RATE_TYPES:
        raise _fail(t("--simulate: '{part}' — a rate is TYPE=N/day with TYPE one of {types}",
                      part=part, types=", ".join(RATE_TYPES)))  # fmt: skip
    fields: list[tuple[str, str]] = []
    if bracket:
        inner = rest[:-1] if rest.endswith("]") else None
        pairs = [] if inner is None else [p.partition("=") for p in inner.split(",")]
        if inner is None or not inner.strip() or any(not k.strip() or not sep or not v.strip() for k, sep, v in pairs):
            raise _fail(t("--simulate: '{part}' — write the fields in brackets as FIELD=VALUE, separated by commas",
                          part=part))  # fmt: skip
        fields = [(k.strip(), v.strip()) for k, _, v in pairs]
    needed = NEEDED_FIELDS.get(kind)
    if needed and needed not in dict(fields):
        raise _fail(t("--simulate: {type} needs {field}=… in brackets, such as {example}",
                      type=kind, field=needed, example=f"{kind}[{needed}=问过价格]=5/day"))  # fmt: skip
    number = value.replace(" ", "")[: -len(PER_DAY)]
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if not (0 <= rate < math.inf):
        raise _fail(t("--simulate: the rate in '{part}' must be a number of events a day, such as 30/day or 0.5/day",
                      part=part))  # fmt: skip
    return Arrival(kind, tuple(fields), rate)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def day_counts(rate: float, days: int, phase: float) -> list[int]:
    """How many events each of `days` days gets at `rate` a day: ⌊rate·(d+1)+φ⌋ − ⌊rate·d+φ⌋."""
    return [math.floor(rate * (d + 1) + phase) - math.floor(rate * d + phase) for d in range(days)]


def arrival_times(arrival: Arrival, seed: int, clock: LocalTime, start: int, end: int) -> list[int]:
    """When `arrival`'s events happen in [start, end), in order (see the module docstring)."""
    first, last = clock.local(start).date(), clock.local(end - 1).date()
    days = (last - first).days + 1
    phase = _rng(seed, arrival.key, "phase").random()
    out: list[int] = []
    for d, n in enumerate(day_counts(arrival.rate, days, phase)):
        if n == 0:
            continue
        date = first + dt.timedelta(days=d)
        lo = clock.instant(dt.datetime.combine(date, dt.time()) + dt.timedelta(seconds=WINDOW[0]))
        hi = clock.instant(dt.datetime.combine(date, dt.time()) + dt.timedelta(seconds=WINDOW[1]))
        rng = _rng(seed, arrival.key, date.isoformat())
        for k in range(n):
            at = lo + int((k + rng.random()) * (hi - lo) / n)
            if start <= at < end:
                out.append(at)
    return out


# Names for new contacts: a common surname and a given name (remark names as staff write them).
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("小敏", "佳怡", "思远", "雨桐", "子涵", "晓峰", "欣然", "浩然", "梓萱", "俊杰", "婷婷", "志强", "可欣",
         "一鸣", "诗涵", "嘉豪", "美玲", "文博", "晨曦", "丽华")  # fmt: skip


def named_sources(playbooks: Iterable[ir.Playbook]) -> list[str]:
    """The sources the playbooks' `on friend_added where event.source == …` (or `in [...]`)
    entries name, sorted."""
    found: set[str] = set()

    def walk(expr: Any) -> None:
        op = getattr(expr, "op", None)
        if (
            op == "cmp"
            and expr.field == "event.source"
            and expr.cmp == "=="
            and getattr(expr.value, "kind", "") == "text"
        ):
            found.add(str(expr.value.value))
        elif op == "in" and expr.field == "event.source":
            found.update(str(v.value) for v in expr.values if v.kind == "text")
        elif op in ("and", "or"):
            for arg in expr.args:
                walk(arg)
        elif op == "not":
            walk(expr.arg)

    for pb in playbooks:
        for journey in pb.journeys.values():
            entry = journey.entry
            if entry.kind == "event" and entry.event == NEW_CONTACTS and entry.where is not None:
                walk(entry.where)
    return sorted(found)


def new_id_prefix(known: Iterable[str]) -> str:
    """'sim-', or 'sim2-', 'sim3-', … when an id of the data already starts with it."""
    taken = [cid for cid in known if cid.startswith("sim")]
    prefix, n = "sim-", 1
    while any(cid.startswith(prefix) for cid in taken):
        n += 1
        prefix = f"sim{n}-"
    return prefix


def draw_arrivals(arrivals: Sequence[Arrival], seed: int, clock: LocalTime, start: int, end: int,
                  contacts: Contacts, known_ids: Iterable[str], sources: Sequence[str],
                  first_seq: int) -> list[Event]:  # fmt: skip
    """The events the rates draw over [start, end), in time order, numbered from
    `first_seq`: new contacts (ids not in `known_ids`) for friend_added, contacts drawn from
    those `contacts` holds (not deleted) and the new ones before them for the others."""
    from playbook.data.values import typed

    accounts = contacts.account_ids()
    prefix = new_id_prefix(known_ids)
    drawn: list[tuple[int, int, int, Arrival]] = []  # (at, which key, k, the key)
    for number, arrival in enumerate(arrivals):
        drawn += [(at, number, k, arrival) for k, at in enumerate(arrival_times(arrival, seed, clock, start, end))]
    drawn.sort(key=lambda d: (d[0], d[1], d[2]))
    new: list[tuple[int, str]] = []  # (at, id) of the new contacts, in order
    pool = [cid for cid in contacts.fields if cid not in contacts.deleted]
    events: list[Event] = []
    who = [_rng(seed, arrival.key, "who") for arrival in arrivals]  # each key's draws, in its events' order
    fields: list[dict[str, Any]] = [{k: typed(k, v, clock) for k, v in arrival.fields} for arrival in arrivals]
    for at, number, _, arrival in drawn:
        rng = who[number]
        data = dict(fields[number])
        if arrival.type == NEW_CONTACTS:
            cid = f"{prefix}{len(new) + 1:04d}"
            if "account" not in data:
                if not accounts:
                    raise _fail(t("--simulate: {key} needs a staff account for its new contacts: give --accounts, "
                                  "or account=… in brackets", key=arrival.key))  # fmt: skip
                data["account"] = rng.choice(accounts)
            data.setdefault("name", rng.choice(SURNAMES) + rng.choice(GIVEN))
            if "source" not in data and sources:
                data["source"] = rng.choice(sources)
            new.append((at, cid))
        else:
            before = bisect.bisect_left(new, (at, ""))  # the new contacts already there
            if not pool and not before:
                continue  # nobody to draw
            pick = rng.randrange(len(pool) + before)
            cid = pool[pick] if pick < len(pool) else new[pick - len(pool)][1]
            if arrival.type == "purchase" and "amount" not in data:
                record = contacts.fields.get(cid, {})
                spent, orders = record.get("spent"), record.get("orders")
                data["amount"] = round(float(spent / orders if isinstance(spent, int | float) and orders else 100), 2)
            if arrival.type == "deleted":
                data.setdefault("by", "customer")
        data["simulated"] = True
        events.append(Event(arrival.type, cid, at, data, first_seq + len(events)))
    return events


def drawn_counts(events: Iterable[Event], clock: LocalTime) -> Counter[tuple[str, str]]:
    """What --simulate drew: events by (local date, type)."""
    out: Counter[tuple[str, str]] = Counter()
    for e in events:
        out[clock.local(e.at).date().isoformat(), e.type] += 1
    return out


class Simulator:
    def __init__(self, odds: dict[str, float], seed: int, engine: Engine, first_seq: int):
        self.odds = odds
        self.seed = seed
        self.engine = engine
        self.seq = first_seq
        self.drawn: list[Event] = []  # the events it made up, for the plan to show

    def _rng(self, key: str, kind: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}\x00{key}\x00{kind}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def after_touch(self, touch: Touch) -> None:
        if touch.outcome not in (OK, DEFERRED):
            return
        for kind, p in sorted(self.odds.items()):
            event_type, channel, low, high = KINDS[kind]
            if touch.channel != channel or p <= 0:
                continue
            targets = touch.audience.ids() if channel == "moment" and touch.audience is not None else [touch.contact]
            for cid in targets or ():
                if cid is None:
                    continue
                rng = self._rng(f"{touch.key}\x00{cid}", kind)
                if rng.random() >= p:
                    continue
                at = touch.at + rng.randint(low, high)
                data: dict[str, object] = {"simulated": True}
                if event_type == "purchase":
                    record = self.engine.contacts.fields.get(cid, {})
                    spent, orders = record.get("spent"), record.get("orders")
                    average = spent / orders if isinstance(spent, int | float) and orders else 100
                    data["amount"] = round(float(average), 2)
                self.seq += 1
                event = Event(event_type, cid, at, data, self.seq)
                self.drawn.append(event)
                self.engine.feed(event)
