"""Names across a playbook's files: which declarations and settings there are (`collect`),
and what a reference names — a segment, content, group, event, field, placeholder, staff
account or role — each checked against what is declared or known."""

from __future__ import annotations

from dataclasses import dataclass, field

from playbook.compiler.context import DECLARATION_KINDS, KIND_WORDS, Additions, Decl, Doc, Env, Site, obj
from playbook.compiler.templates import TemplateError, placeholders
from playbook.diagnostics import did_you_mean, nearest
from playbook.eventnames import BUILTIN_EVENTS, EVENT_ALIASES, canonical_event
from playbook.i18n import t
from playbook.syntax import ast as A
from playbook.syntax.keywords import keywords


@dataclass
class Settings:
    """The playbook's settings as written (each the first of its kind; lower.settings checks them)."""

    title: A.Title | None = None
    timezone: A.Timezone | None = None
    quiet: A.Quiet | None = None
    limits: list[A.Limit] = field(default_factory=list)


def collect(env: Env, out: Additions) -> Settings:
    """Fill ENV's name tables and custom events from its files; return the settings."""
    settings = Settings()
    for f in env.files:
        site = Site(env, out, f.path)
        for d in f.declarations:
            if isinstance(d, A.Title | A.Timezone | A.Quiet):
                _setting(site, settings, d)
            elif isinstance(d, A.Limit):
                d.file = f.path
                settings.limits.append(d)
            elif isinstance(d, A.EventDecl):
                env.events_declared.setdefault(canonical_event(d.name.value), d)
            else:
                declare(site, DECLARATION_KINDS[type(d)], d)  # type: ignore[arg-type]
    return settings


def _setting(site: Site, settings: Settings, d: A.Title | A.Timezone | A.Quiet) -> None:
    attr = {A.Title: "title", A.Timezone: "timezone", A.Quiet: "quiet"}[type(d)]
    word = {A.Title: "playbook", A.Timezone: "timezone", A.Quiet: "quiet"}[type(d)]
    first = getattr(settings, attr)
    if first is not None:
        site.error(
            "duplicate-setting",
            t("'{setting}' is set more than once", setting=word),
            d.span,
            t("it is already set at {place}", place=f"{first.file}:{first.span.line}"),
        )
        return
    setattr(settings, attr, d)


def declare(
    site: Site, kind: str, node: A.Segment | A.Content | A.Journey | A.Group | A.Moments | A.Rotate | A.Sla
) -> None:
    name = node.name.value
    table = site.env.tables[kind]
    if name in keywords():
        site.error(
            "reserved-name",
            t("'{name}' is a keyword and cannot name a {kind}", name=name, kind=t(KIND_WORDS[kind])),
            node.name.span,
            t("pick another name (Chinese names work well)"),
        )
        return
    if name in table:
        first = table[name].node
        site.error(
            "duplicate-name",
            t("{kind} '{name}' is declared twice", kind=t(KIND_WORDS[kind]), name=name),
            node.name.span,
            t("the first one is at {place}", place=f"{first.file}:{first.span.line}"),
        )
        return
    table[name] = Decl(kind, node)


def known(site: Site, kind: str, name: A.Name) -> bool:
    """Whether a referenced segment/content/group is declared; an error when it is not."""
    table = site.env.tables[kind]
    if name.value in table:
        return True
    message = {"segment": "unknown segment '{name}'", "content": "unknown content '{name}'",
               "group": "unknown group '{name}'"}[kind]  # fmt: skip
    site.error("unknown-name", t(message, name=name.value), name.span, did_you_mean(name.value, table))
    return False


def segment_ref(site: Site, name: A.Name) -> str:
    known(site, "segment", name)
    return name.value


def content_ref(site: Site, name: A.Name, *, with_event: bool) -> str:
    content = name.value
    if not known(site, "content", name):
        return content
    site.out.used_contents.add(content)
    if not with_event:
        node: A.Content = site.env.tables["content"][content].node  # type: ignore[assignment]
        for part in node.parts:
            missing = _event_placeholder(part.value.value)
            if missing:
                site.warn(
                    "unresolvable-placeholder",
                    t(
                        "'{placeholder}' in content '{name}' can never be filled here: no event starts this",
                        placeholder="{" + missing + "}",
                        name=content,
                    ),
                    name.span,
                    t(
                        "give it a fallback like {example} or use it only in journeys started by an event",
                        example="{" + missing + "|…}",
                    ),
                )
                break
    return content


def event(site: Site, name: A.Name) -> str:
    """An event a journey (or service level) waits for: a built-in one (by its name or
    a Chinese name, eventnames.py), or one the playbook declares (`event NAME`); any
    other is a warning — nothing would ever send it."""
    canonical = canonical_event(name.value)
    site.out.events_used.add(canonical)
    declared = site.env.events_declared
    if canonical not in BUILTIN_EVENTS and canonical not in declared:
        near = nearest(canonical, [*BUILTIN_EVENTS, *EVENT_ALIASES, *declared])
        example = f"event {canonical}"
        hint = (t("did you mean '{name}'? If it is an event of your own, declare it: {example}", name=near,
                  example=example)
                if near else t("if it is an event of your own, declare it: {example}", example=example))  # fmt: skip
        site.warn(
            "unknown-event",
            t("'{name}' is neither a built-in event nor declared with 'event'", name=canonical),
            name.span,
            hint,
        )
    return canonical


def contact_field(site: Site, f: A.Field, events: bool) -> str:
    """A field read by an expression; `events` says whether `event.*` means something here."""
    path = f.path
    if len(path) > 2 or (len(path) == 2 and path[0] not in ("event", "account")):
        site.error(
            "field",
            t("'{name}' is not a field", name=f.dotted),
            f.span,
            t("use a contact field (spent), account.<field> or event.<field>"),
        )
    elif path[0] == "event" and len(path) == 2 and not events:
        site.error(
            "event-field",
            t("'{name}' has no event to read from here", name=f.dotted),
            f.span,
            t(
                "event.* can be used where an event is at hand: on/exit on/goal/wait for … where, "
                "and in journeys entered on an event"
            ),
        )
    elif len(path) == 1:
        site.use_field(path[0], f.span)
    return f.dotted


def template(site: Site, text: A.Text) -> list[Doc]:
    """The placeholders of a text (the contact fields they read are used)."""
    try:
        holders = placeholders(text.value)
    except TemplateError as exc:
        site.error("placeholder", exc.message, text.span, exc.hint)
        return []
    for p in holders:
        if p.scope == "contact":
            site.use_field(p.path, text.span)
    return [obj(path=p.path, fallback=p.fallback) for p in holders]


def text_without_event(site: Site, text: A.Text) -> None:
    """A text used where no event is at hand: an event placeholder without fallback is never filled."""
    missing = _event_placeholder(text.value)
    if missing:
        site.warn(
            "unresolvable-placeholder",
            t("'{placeholder}' can never be filled here: no event starts this", placeholder="{" + missing + "}"),
            text.span,
            t("give it a fallback like {example}", example="{" + missing + "|…}"),
        )


def _event_placeholder(text: str) -> str | None:
    """The first event placeholder of TEXT without a fallback (None: none, or the text's
    placeholders are malformed, which resolve.template reports)."""
    try:
        holders = placeholders(text)
    except TemplateError:
        return None
    return next((p.path for p in holders if p.scope == "event" and p.fallback is None), None)


def account(site: Site, name: A.Name) -> None:
    """An escalation's account must be one of the accounts (when they are known)."""
    accounts = site.env.known_accounts
    if accounts is None or any(a.get("id") == name.value for a in accounts):
        return
    by_name = [str(a["id"]) for a in accounts if a.get("name") == name.value and a.get("id")]
    hint = (t("{name} is the name of account {id}: write its id", name=name.value, id=by_name[0]) if by_name
            else did_you_mean(name.value, (str(a["id"]) for a in accounts if a.get("id"))))  # fmt: skip
    site.error("unknown-account", t("unknown account '{name}'", name=name.value), name.span, hint)


def role(site: Site, role: A.Text) -> None:
    """An escalation's role must be held by an account (the accounts' `role` column)."""
    accounts = site.env.known_accounts
    if accounts is None:
        return
    roles = {str(a["role"]) for a in accounts if a.get("role") is not None}
    if role.value in roles:
        return
    if not roles:
        site.error("unknown-role", t("no account has the role \"{role}\": the accounts have no role column",
                                     role=role.value), role.span,
                   t("add a role column to the accounts file (e.g. id,name,role with 店长 on the supervisor's "
                     "row), or escalate to an account id"))  # fmt: skip
        return
    site.error("unknown-role", t("no account has the role \"{role}\"", role=role.value), role.span,
               did_you_mean(role.value, roles))  # fmt: skip
