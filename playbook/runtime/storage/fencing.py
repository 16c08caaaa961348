"""Leases as the store's writes see them: who holds one (`Holder`), the lease a store
writes under (`Fence`), the check each fenced write makes first (`check_fence`), and what
a write finds when its lease was taken over (`LeaseLost`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s

STORE_SHARD = 0  # the store-wide writer's lease: shard 0 of one shard (scale-out adds shards)


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lease: the process's owner id, host and pid, since when, until when."""

    shard: int
    owner: str
    host: str | None
    pid: int | None
    since: dt.datetime | None
    expires_at: dt.datetime | None
    token: int


@dataclasses.dataclass(frozen=True)
class Fence:
    """The lease a store's writes are made under: each write checks, in its own transaction,
    that `owner` still holds `shard` with this `token` (see `Store.fence`)."""

    shard: int
    owner: str
    token: int


class LeaseLost(Exception):
    """A write under a fence found the lease taken by another process: nothing was written."""

    def __init__(self, fence: Fence, holder: Holder | None) -> None:
        who = f"{holder.owner} on {holder.host} (pid {holder.pid})" if holder is not None else "nobody"
        super().__init__(f"the store's lease (shard {fence.shard}, token {fence.token}) is now held by {who}")
        self.fence = fence
        self.holder = holder


def check_fence(conn: Connection, fence: Fence, dialect: str) -> None:
    """The fencing check, first in a write transaction: the lease row must still name
    our owner and token. On SQLite the transaction holds the write lock (BEGIN
    IMMEDIATE) until it commits; on PostgreSQL the row is locked FOR SHARE, so a
    take-over (an UPDATE of that row) waits for this commit — either way no write of a
    process that lost its lease lands after the new holder took it."""
    t = s.leases
    query = sa.select(t).where(t.c.shard == fence.shard)
    if dialect == "postgresql":
        query = query.with_for_update(read=True)
    row = conn.execute(query).first()
    if row is None or row.owner != fence.owner or row.token != fence.token:
        raise LeaseLost(fence, holder_of(row) if row is not None and row.owner is not None else None)


def holder_of(row: Any) -> Holder:
    """A `leases` row as its holder."""
    return Holder(shard=row.shard, owner=row.owner, host=row.host, pid=row.pid, since=row.acquired_at,
                  expires_at=row.expires_at, token=int(row.token))  # fmt: skip
