"""Contacts and accounts as the engine sees them (`Contacts`), and what an input event does to
a contact's fields before any flow reacts to it (`friend_added`, `apply_effects`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playbook.engine.expr import Scope
from playbook.vocab.model import (
    Event,
)
from playbook.vocab.values import Instant


class Contacts:
    """Contacts and accounts as the engine sees them, and who belongs to which account."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.by_account: dict[str, dict[str, None]] = {}  # insertion-ordered sets
        # the accounts whose account-wide work (Moments posts, rotation queues) this engine
        # does; None: every account. A shard's engine (runtime/decide.py) knows every
        # account but posts only for its own: another shard posts for the others.
        self.owns: Callable[[str], bool] | None = None

    def add_account(self, record: dict[str, Any]) -> None:
        self.accounts[record["id"]] = record
        self.by_account.setdefault(record["id"], {})

    def upsert(self, record: dict[str, Any]) -> None:
        cid = record["id"]
        old = self.fields.get(cid)
        if old is not None and old.get("account") != record.get("account"):
            self.by_account.get(old.get("account"), {}).pop(cid, None)
        self.fields[cid] = record
        account = record.get("account")
        if account:
            self.by_account.setdefault(account, {})[cid] = None
            self.accounts.setdefault(account, {"id": account})

    def scope(self, cid: str | None, now: int, event: dict[str, Any] | None = None) -> Scope:
        """What a predicate sees for a contact: its fields, its account's, the event."""
        fields = self.fields.get(cid, {}) if cid else {}
        return Scope(fields, self.accounts.get(fields.get("account", "")), event, now)

    def active(self, cid: str) -> bool:
        return cid in self.fields and cid not in self.deleted

    def of_account(self, account: str) -> list[str]:
        return [c for c in self.by_account.get(account, {}) if c not in self.deleted]

    def account_ids(self) -> list[str]:
        """The accounts this engine does account-wide work for (`owns`), sorted."""
        owns = self.owns
        return sorted(self.by_account if owns is None else filter(owns, self.by_account))


EVENT_ONLY_FIELDS = frozenset({"id"})


def friend_added(contacts: Contacts, event: Event) -> None:
    """A `friend_added` event (LANGUAGE.md §3.3): the contact, created if new, takes every
    field the event carries (name, account, orders, spent, source, …) and `added_at` if
    unset; a deleted contact is a friend again. The plan and the daemon both come here."""
    cid = event.contact
    record = dict(contacts.fields.get(cid, {"id": cid}))
    for key, value in event.data.items():
        if key not in EVENT_ONLY_FIELDS:
            record[key] = value
    record.setdefault("added_at", Instant(event.at))
    contacts.deleted.discard(cid)
    contacts.upsert(record)


def apply_effects(contacts: Contacts, event: Event) -> set[str]:
    """How an event changes its contact, before any flow reacts (LANGUAGE.md §3). Returns
    the fields it changed ("deleted" for a deletion)."""
    cid = event.contact
    record = contacts.fields[cid]
    kind, data = event.type, event.data
    if kind == "purchase":
        record["orders"] = (record.get("orders") or 0) + 1
        amount = data.get("amount")
        if isinstance(amount, int | float):
            record["spent"] = (record.get("spent") or 0) + amount
        record["last_purchase_at"] = Instant(event.at)
        return {"orders", "spent", "last_purchase_at"}
    if kind in ("message", "moment_interaction"):
        record["last_active_at"] = Instant(event.at)
        return {"last_active_at"}
    if kind in ("tag_added", "tag_removed"):
        before = frozenset(record.get("tags", frozenset()))
        after = before | {data["tag"]} if kind == "tag_added" else before - {data["tag"]}
        record["tags"] = after
        return {"tags"} if after != before else set()
    if kind in ("joined_group", "left_group"):
        return _group_membership(record, kind == "joined_group", data.get("group"))
    if kind == "contact_updated":
        for key, value in data.items():
            if key not in EVENT_ONLY_FIELDS:
                record[key] = value
        contacts.upsert(record)
        return set(data) - EVENT_ONLY_FIELDS
    if kind == "deleted":
        contacts.deleted.add(cid)
        return {"deleted"}
    return set()


def _group_membership(record: dict[str, Any], joined: bool, group: Any) -> set[str]:
    """`joined_group`/`left_group` with a `group` (a group's name, or a numbered group's id
    `NAME/…`) change the contact's `groups`, which `in group NAME` reads; without one,
    nothing changes."""
    if not isinstance(group, str) or not group:
        return set()
    name = group.split("/", 1)[0]
    before = frozenset(record.get("groups", frozenset()))
    after = before | {name} if joined else before - {name}
    record["groups"] = after
    return {"groups"} if after != before else set()
