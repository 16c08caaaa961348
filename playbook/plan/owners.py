"""Which rows of the plan's files a shard owns (`Shard`): its accounts' contacts and their
events. An account's shard is `vocab.shards.shard_of` of its id, as in the store. When the
data ties accounts of two shards together, reading stops with `NotShardable` and the plan is
made in one process (plan/shards.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from playbook.data.values import text_value
from playbook.vocab.shards import shard_of

if TYPE_CHECKING:
    from playbook.engine.core import Contacts


class NotShardable(Exception):
    """The data ties accounts of different shards together: plan in one process."""


_CONTACT_KEY = '"contact": "'  # how a JSON Lines event names its contact, usually


def _renamed_keys(columns: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """JSON keys (as written, any case) that the events reader takes for `account` or
    `contact` under another name: a line with one is decoded to know its shard."""
    from playbook.data.columns import EVENTS, SYNONYMS

    names = [*SYNONYMS[EVENTS]["account"], *SYNONYMS[EVENTS]["contact"]]
    names += [header for header, field in columns if field in ("account", "contact")]
    return re.compile("|".join(f'"{re.escape(n)}"' for n in names), re.IGNORECASE)


class Shard:
    """One worker's part: the rows of its accounts (data.files.RowOwner, EventRouter)."""

    def __init__(self, index: int, count: int, columns: tuple[tuple[str, str], ...] = ()):
        self.index = index
        self.count = count
        self.renamed = _renamed_keys(columns)
        self.others: dict[str, int] = {}  # contact id -> shard, for the contacts file's other rows
        self.own: Mapping[str, Any] = {}  # this shard's contacts, once read
        self.new: dict[str, int] = {}  # contact id -> shard, for contacts only events add
        self._owners: dict[str | None, int] = {}

    def owner(self, account: str | None) -> int:
        shard = self._owners.get(account)
        if shard is None:
            shard = self._owners[account] = shard_of(account, self.count)
        return shard

    # ---- contacts (data.files.RowOwner) ----------------------------------------------------
    def mine(self, account: str | None) -> bool:
        return self.owner(account) == self.index

    def other_row(self, rid: str | None, account: str | None) -> None:
        if rid:
            self.others.setdefault(rid, self.owner(account))

    def check_own(self, rid: str) -> None:
        if rid in self.others:
            raise NotShardable(f"contact {rid!r} is on rows of accounts in different shards")

    def known(self, contacts: Contacts) -> None:
        self.own = contacts.fields

    def _in_file(self, contact: str) -> int | None:
        """The shard of a contact of the contacts file (None: not in it)."""
        return self.index if contact in self.own else self.others.get(contact)

    # ---- events (data.files.EventRouter) ---------------------------------------------------
    def route(self, contact: str | None, row: dict[str, Any]) -> bool | None:
        """Whether an event row is this shard's (None: not known yet — a contact that a
        later row adds)."""
        if contact is None:
            return self.index == 0  # a row without a contact: shard 0 reports it
        shard = self._in_file(contact)
        if shard is None:
            shard = self.new.get(contact)
        if "account" in row and row.get("type") in ("friend_added", "contact_updated"):
            account = text_value(row["account"])
            if account:
                given = self.owner(account)
                if shard is None:
                    shard = self.new[contact] = given
                elif given != shard:
                    raise NotShardable(f"contact {contact!r} moves to an account of another shard")
        return None if shard is None else shard == self.index

    def line(self, text: str) -> bool | None:
        """Whose a line of a JSON Lines events file is, read off its text before it is
        decoded, where that is sure: one object, one `"contact": "…"` key without escapes,
        no `account` (which could move the contact), a contact of the contacts file. A line
        that is not valid JSON after all is reported by that shard. None: decode it."""
        start = text.find(_CONTACT_KEY)
        if start < 0:
            return None
        start += len(_CONTACT_KEY)
        end = text.find('"', start)
        if end < 0 or text.count("{") != 1 or text.count(_CONTACT_KEY) != 1 or '"account"' in text:
            return None
        if self.renamed.search(text):  # a key read as the account or the contact (data/columns.py)
            return None
        contact = text[start:end]
        if "\\" in contact:
            return None
        shard = self._in_file(contact.strip())
        return None if shard is None else shard == self.index

    def settle(self, contact: str | None) -> bool:
        """Whose a row is that `route` could not tell at the time: the shard of the account
        that a later row added the contact with; a contact never added is shard 0's (the
        engine reports it as unknown)."""
        return self.new.get(contact or "", 0) == self.index


# ---- the workers -----------------------------------------------------------------------------
