"""Why a touch was deferred or skipped, and why a contact left a journey: a code and its
arguments.

A `Reason` is the code with its arguments (`Reason("quiet_hours", start="22:00",
end="08:00")`) and, as a `str`, its English text ("quiet hours 22:00-08:00"), the bytes the
plan's JSON contract and the store's text columns keep. One table (`CODES`) gives each code
its English template, the template shown in the operator's language (`text`), and what the
summary counts it as (`cause`: quiet hours, limits, missing fields, exits, or the reason
itself).

Reasons made by the engine carry their code, and the store keeps the code and arguments as
data beside the text (`Reason.data` and `from_data`: `{"code": …, "args": {…}}`, a reason
among the arguments as the same; runtime/codec.py maps them to the store's columns). Text
is turned back into a Reason by `read`, which inverts the same templates, in two places
only: (a) what a store held before it kept codes (rows written before revision 0007), and
(b) the plan's JSON contract read back from a file (`plan --format html`, plan/html.py). A
text no template gives stays a reason of its own (code "other") and is shown as it is.
"""

from __future__ import annotations

import re
import string
from functools import cache, lru_cache
from typing import Any

from playbook.i18n import N_, t


class Code:
    """One code's templates (a plain class: a dataclass costs `playbook check` a millisecond
    to create at import)."""

    __slots__ = ("english", "shown", "cause")

    def __init__(self, english: str, shown: str | None = None, cause: str | None = None):
        self.english = english  # a str.format template over the reason's arguments: the text the JSON keeps
        self.shown = shown  # the template for people (i18n), when it has one
        self.cause = cause  # what the summary counts it as; None: the reason itself


# Fields of the templates as `read` recognises them in a text.
_FIELDS = {
    "start": r"\d{1,2}:\d{2}",
    "end": r"\d{1,2}:\d{2}",
    "channel": r"dm|group|moment|task|any",
    "count": r"\d+",
    "scope": r"contact|account",
    "period": r"day|week|month",
    "field": r"\S+",
    "event": r"\S+",
    "version": r"\S+",
    "why": r".*",
    "role": r".+",
    "group": r".+",
}

CODES: dict[str, Code] = {
    # touches given up or held
    "contact_deleted": Code("contact deleted", N_("contact deleted")),
    "no_account": Code("the contact has no account", N_("the contact has no account")),
    "group_closed": Code("the group has closed", N_("the group has closed")),
    "no_audience": Code("no contact can see it", N_("no contact can see it")),
    "quiet_hours": Code("quiet hours {start}-{end}", N_("quiet hours {start}-{end}"), "quiet hours"),
    "limit": Code("limit {channel} {count} per {scope} per {period}", None, "limits"),
    "missing": Code("missing {field}", N_("missing {field}"), "missing fields"),
    "exited": Code("exited the journey ({why})", N_("exited the journey ({reason})"), "exits"),
    "awaiting_approval": Code("awaiting approval of {version}"),
    "rejected": Code("{version} was rejected"),
    "replaced": Code("{version} was replaced before approval"),
    # the platform limits of adapters (playbook.adapters.capabilities)
    "wecom_dm_day": Code("wecom: 1 dm per customer per day", N_("wecom: 1 dm per customer per day")),
    "wecom_dm_week": Code("wecom: 7 dm per customer per week", N_("wecom: 7 dm per customer per week")),
    "wecom_dm_month": Code("wecom: days-in-month dm per customer", N_("wecom: days-in-month dm per customer")),
    "wecom_post_day": Code("wecom: 1 post per customer group per day", N_("wecom: 1 post per customer group per day")),
    "wecom_post_week": Code(
        "wecom: 7 posts per customer group per week", N_("wecom: 7 posts per customer group per week")
    ),
    "wecom_post_month": Code(
        "wecom: days-in-month posts per customer group", N_("wecom: days-in-month posts per customer group")
    ),
    # why a contact left a journey (the `why` of "exited")
    "exit_when": Code("exit when", N_("exit when")),
    "exit_step": Code("exit step", N_("exit step")),
    "deleted": Code("deleted", N_("deleted")),
    "exit_on": Code("exit on {event}", N_("exit on {event}")),
    "migrated": Code("migrated to {version}"),
    # standing groups (engine/standing.py): a post to a group with no member, an invitation not needed or not allowed
    "empty_group": Code("nobody is in the group", N_("nobody is in the group")),
    "already_member": Code("already in group '{group}'", N_("already in group '{group}'")),
    "not_admitted": Code("not admitted to group '{group}'", N_("not admitted to group '{group}'")),
    # an SLA escalation to a role no account holds when it is due (engine/sla.py)
    "no_role": Code("no account has the role {role}", N_("no account has the role {role}")),
}
EXIT_CODES = ("exit_when", "exit_step", "deleted", "exit_on", "migrated", "rejected", "replaced")

_LIMITS = {
    "dm": N_("limit dm {count} {per}"),
    "group": N_("limit group {count} {per}"),
    "moment": N_("limit moment {count} {per}"),
    "task": N_("limit task {count} {per}"),
    "any": N_("limit any {count} {per}"),
}
_PER = {
    ("contact", "day"): N_("per contact per day"),
    ("contact", "week"): N_("per contact per week"),
    ("contact", "month"): N_("per contact per month"),
    ("account", "day"): N_("per account per day"),
    ("account", "week"): N_("per account per week"),
    ("account", "month"): N_("per account per month"),
}
SEPARATOR = N_("; ")  # between the reasons of one touch


class Reason(str):
    """A reason's code and arguments; as a str, its English text."""

    code: str
    args: dict[str, Any]

    def __new__(cls, code: str, /, **args: Any) -> Reason:
        self = super().__new__(cls, CODES[code].english.format(**args) if code in CODES else _other(code, args))
        self.code = code
        self.args = args
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # to a worker process and back (plan shards)
        return (_make, (self.code, self.args))

    def __repr__(self) -> str:
        return f"Reason({self.code!r}, {self.args!r})"

    @property
    def cause(self) -> str:
        """What the plan's summary counts it as: 'quiet hours', 'limits', 'missing
        fields', 'exits', or the (first) reason itself."""
        if self.code == "several":
            return self.args["parts"][0].cause
        code = CODES.get(self.code)
        return code.cause if code is not None and code.cause is not None else self

    def text(self) -> str:
        """In the operator's language."""
        code, args = self.code, self.args
        if code == "several":
            return t(SEPARATOR).join(part.text() for part in args["parts"])
        if code == "limit":
            per = _PER.get((args["scope"], args["period"]))
            shown = _LIMITS.get(args["channel"])
            return self if per is None or shown is None else t(shown, count=args["count"], per=t(per))
        if code == "exited":
            return t("exited the journey ({reason})", reason=args["why"].text())
        if code == "exit_on":
            from playbook.words import event_label

            return t("exit on {event}", event=event_label(args["event"]))
        shown = CODES[code].shown if code in CODES else None
        return self if shown is None else t(shown, **args)

    def data(self) -> dict[str, Any]:
        """The code and arguments as plain JSON data, for the store: `{"code": …, "args":
        {…}}`; a reason among the arguments (an exit's `why`, the `parts` of several) is the
        same data again, a sequence of them an array. `from_data` gives the Reason back."""
        return {"code": self.code, "args": {name: _arg_data(value) for name, value in self.args.items()}}


def _arg_data(value: Any) -> Any:
    if isinstance(value, Reason):
        return value.data()
    if isinstance(value, tuple | list):
        return [_arg_data(x) for x in value]
    return value


def from_data(doc: Any) -> Reason:
    """The Reason whose `data()` is `doc`. ValueError for data that is no reason (not a
    code with arguments, or a code this version does not know)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("code"), str) or not isinstance(doc.get("args", {}), dict):
        raise ValueError(f"not a reason's data: {doc!r}")
    code = doc["code"]
    if code not in CODES and code not in ("several", "other"):
        raise ValueError(f"no reason code {code!r}")
    args = {name: _arg_of(value) for name, value in (doc.get("args") or {}).items()}
    try:
        return Reason(code, **args)
    except (KeyError, IndexError, TypeError) as exc:  # arguments that do not fill the code's template
        raise ValueError(f"not a reason's data: {doc!r} ({exc!r})") from None


def _arg_of(value: Any) -> Any:
    if isinstance(value, dict):
        return from_data(value)
    if isinstance(value, tuple | list):
        return tuple(_arg_of(x) for x in value)
    return value


def _make(code: str, args: dict[str, Any]) -> Reason:
    return Reason(code, **args)


def _other(code: str, args: dict[str, Any]) -> str:
    if code == "several":
        return "; ".join(args["parts"])
    if code == "other":
        return args["text"]
    raise KeyError(f"no reason code {code!r}")


CONTACT_DELETED = Reason("contact_deleted")
NO_ACCOUNT = Reason("no_account")
GROUP_CLOSED = Reason("group_closed")
NO_AUDIENCE = Reason("no_audience")
EXIT_WHEN = Reason("exit_when")
EXIT_STEP = Reason("exit_step")
DELETED = Reason("deleted")

# Reasons made per touch are each made once (a plan of a million gives the same few thousand times).
_joined: dict[tuple[str, ...], Reason] = {}


def joined(reasons: list[Reason]) -> Reason:
    """The reasons of one touch (each deferral's), as one: "a; b"."""
    if len(reasons) == 1:
        return reasons[0]
    key = tuple(reasons)
    found = _joined.get(key)
    if found is None:
        found = _joined[key] = Reason("several", parts=key)
    return found


@cache
def missing(path: str) -> Reason:
    """A placeholder's field the contact lacks (a text without a fallback is not sent)."""
    return Reason("missing", field=path)


@cache
def exited(why: Reason) -> Reason:
    """The contact left the journey a touch belonged to, and why."""
    return Reason("exited", why=why)


@cache
def exit_on(event: str) -> Reason:
    """An `exit on EVENT` rule matched."""
    return Reason("exit_on", event=event)


EMPTY_GROUP = Reason("empty_group")


@cache
def already_member(group: str) -> Reason:
    """An invitation to a standing group the contact is in already."""
    return Reason("already_member", group=group)


@cache
def not_admitted(group: str) -> Reason:
    """An invitation to a standing group whose `admit` does not let the contact in."""
    return Reason("not_admitted", group=group)


def no_role(role: str) -> Reason:
    """An SLA escalates to a role that no account holds (any more)."""
    return Reason("no_role", role=role)


def limit(channel: str, count: int | str, scope: str, period: str) -> Reason:
    """A playbook's `limit` rule as the reason it gives."""
    return Reason("limit", channel=channel, count=count, scope=scope, period=period)


# ---- text back to a Reason --------------------------------------------------------------------------


def _pattern(english: str) -> re.Pattern[str]:
    out = []
    for literal, name, _, _ in string.Formatter().parse(english):
        out.append(re.escape(literal))
        if name is not None:
            out.append(f"(?P<{name}>{_FIELDS[name]})")
    return re.compile("".join(out))


_FIXED = {code.english: name for name, code in CODES.items() if "{" not in code.english}


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """The templates with arguments as patterns (compiled when first needed: importing this
    module stays cheap for `playbook check`, which reads no reasons)."""
    return [(name, _pattern(code.english)) for name, code in CODES.items() if "{" in code.english]


def read(text: str, *, codes: tuple[str, ...] | None = None) -> Reason:
    """The Reason whose English text is `text` (from the JSON contract or the store)."""
    if isinstance(text, Reason):
        return text
    return _read(text, codes)


@lru_cache(maxsize=4096)  # a plan's JSON repeats a few hundred reasons a million times (plan/html.py)
def _read(text: str, codes: tuple[str, ...] | None) -> Reason:
    if codes is None and "; " in text:
        return joined([read(part) for part in text.split("; ")])
    name = _FIXED.get(text)
    if name is not None and (codes is None or name in codes):
        return Reason(name)
    for name, pattern in _patterns():
        if codes is not None and name not in codes:
            continue
        if (m := pattern.fullmatch(text)) is not None:
            args: dict[str, Any] = m.groupdict()
            if name == "exited":
                args["why"] = read(args["why"], codes=EXIT_CODES)
            return Reason(name, **args)
    return Reason("other", text=text)


def reason_text(reason: str) -> str:
    """A reason (a Reason, or its English text) in the operator's language."""
    return read(reason).text() if reason else ""


def cause_of(reason: str) -> str:
    """What the summary counts a reason (a Reason, or its English text) as."""
    return read(reason).cause if reason else reason
