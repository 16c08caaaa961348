"""The `leases` table: a shard's lease, taken for a while and renewed by its owner
(`acquire` / `release`), and the writer's lease with its fencing token (`take`, `renew`,
`give_up`: one writer per shard — with one shard, per store); the `processes` table: the
daemon processes of a deployment, each renewing its row while alive (`heartbeat`), so the
live ones know how many share the shards (`live`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from playbook.runtime import schema as s
from playbook.runtime.storage.database import Database
from playbook.runtime.storage.fencing import STORE_SHARD, Fence, Holder, holder_of


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- leases (sharding by account) ----------------------------------------------------------------------
    def acquire(self, shard: int, owner: str, ttl: float) -> bool:
        """Take or renew a shard for `ttl` seconds; False while another owner's lease lasts."""
        t = s.leases
        now = self.db.now()
        with self.db.write() as conn:
            conn.execute(self.db.insert(t).values(shard=shard).on_conflict_do_nothing())
            free = sa.or_(t.c.owner.is_(None), t.c.owner == owner, t.c.expires_at < now)
            acquired = sa.case((t.c.owner == owner, t.c.acquired_at), else_=now)
            stmt = (
                t.update()
                .where(t.c.shard == shard, free)
                .values(owner=owner, acquired_at=acquired, expires_at=now + dt.timedelta(seconds=ttl))
            )
            return conn.execute(stmt).rowcount == 1

    def release(self, shard: int, owner: str) -> bool:
        t = s.leases
        with self.db.write() as conn:
            stmt = t.update().where(t.c.shard == shard, t.c.owner == owner).values(owner=None, expires_at=None)
            return conn.execute(stmt).rowcount == 1

    # ---- the writer's lease (one writer per store; per shard once scale-out exists) ----------------
    def take(self, owner: str, ttl: float, *, host: str, pid: int, shard: int = STORE_SHARD) -> int | Holder:
        """Take the lease for `ttl` seconds if it is free (released, or expired): the new
        fencing token (one more than the last holder's). Otherwise who holds it."""
        t = s.leases
        now = self.db.now()
        with self.db.write(fenced=False) as conn:
            conn.execute(self.db.insert(t).values(shard=shard, token=0).on_conflict_do_nothing())
            query = sa.select(t).where(t.c.shard == shard)
            if self.db.dialect == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).one()
            if row.owner is not None and row.owner != owner and row.expires_at is not None and row.expires_at >= now:
                return holder_of(row)
            token = int(row.token) + 1
            conn.execute(t.update().where(t.c.shard == shard).values(
                owner=owner, token=token, host=host, pid=pid, acquired_at=now, renewed_at=now,
                expires_at=now + dt.timedelta(seconds=ttl)))  # fmt: skip
            return token

    def renew(self, fence: Fence, ttl: float) -> bool:
        """Extend our lease to now + `ttl`; False when it is not ours any more (nothing changed)."""
        t = s.leases
        now = self.db.now()
        with self.db.write(fenced=False) as conn:
            stmt = (
                t.update()
                .where(t.c.shard == fence.shard, t.c.owner == fence.owner, t.c.token == fence.token)
                .values(renewed_at=now, expires_at=now + dt.timedelta(seconds=ttl))
            )
            return conn.execute(stmt).rowcount == 1

    def give_up(self, fence: Fence) -> bool:
        """Release our lease at a clean stop, so a standby takes over at once (the token stays)."""
        t = s.leases
        with self.db.write(fenced=False) as conn:
            stmt = (
                t.update()
                .where(t.c.shard == fence.shard, t.c.owner == fence.owner, t.c.token == fence.token)
                .values(owner=None, expires_at=None, host=None, pid=None)
            )
            return conn.execute(stmt).rowcount == 1

    def holder(self, shard: int = STORE_SHARD) -> Holder | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        t = s.leases
        with self.db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.shard == shard)).first()
        if row is None or row.owner is None or row.expires_at is None or row.expires_at < self.db.now():
            return None
        return holder_of(row)

    def all(self) -> list[tuple[int, str | None, dt.datetime | None]]:
        """Every lease row: (shard, owner, expires_at), by shard."""
        t = s.leases
        with self.db.read() as conn:
            return [tuple(r) for r in conn.execute(sa.select(t.c.shard, t.c.owner, t.c.expires_at).order_by(t.c.shard))]

    # ---- the processes of a deployment (scale-out) ---------------------------------------------------
    def heartbeat(self, owner: str, ttl: float, *, host: str, pid: int) -> None:
        """This process is alive for `ttl` seconds more (its row made at the first call)."""
        t = s.processes
        now = self.db.now()
        with self.db.write(fenced=False) as conn:
            ins = self.db.insert(t).values(owner=owner, host=host, pid=pid, started_at=now, renewed_at=now,
                                           expires_at=now + dt.timedelta(seconds=ttl))  # fmt: skip
            conn.execute(ins.on_conflict_do_update(index_elements=["owner"], set_={
                "renewed_at": now, "expires_at": now + dt.timedelta(seconds=ttl)}))  # fmt: skip

    def leave(self, owner: str) -> None:
        """This process stops: its row goes (the others' share grows at their next look)."""
        t = s.processes
        with self.db.write(fenced=False) as conn:
            conn.execute(t.delete().where(t.c.owner == owner))

    def processes(self, *, live: bool = True) -> list[Any]:
        """The processes' rows (live ones only: not expired; the long-dead are forgotten)."""
        t = s.processes
        now = self.db.now()
        query = sa.select(t).order_by(t.c.started_at, t.c.owner)
        if live:
            query = query.where(t.c.expires_at >= now)
        with self.db.read() as conn:
            return list(conn.execute(query))

    def forget_processes(self, before: dt.datetime) -> int:
        """Rows of processes that expired before `before` (killed, never stopped cleanly)."""
        t = s.processes
        with self.db.write(fenced=False) as conn:
            return conn.execute(t.delete().where(t.c.expires_at < before)).rowcount

    def free(self, count: int) -> list[int]:
        """Shards of `count` nobody holds now: no lease row yet, given up, or expired."""
        t = s.leases
        now = self.db.now()
        with self.db.read() as conn:
            held = {int(shard) for (shard,) in conn.execute(
                sa.select(t.c.shard).where(t.c.owner.is_not(None), t.c.expires_at >= now))}  # fmt: skip
        return [shard for shard in range(count) if shard not in held]

    def rows(self) -> list[Any]:
        """Every lease row, whole, by shard (for `playbook status`)."""
        t = s.leases
        with self.db.read() as conn:
            return list(conn.execute(sa.select(t).order_by(t.c.shard)))
