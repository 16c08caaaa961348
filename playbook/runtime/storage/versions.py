"""Playbook versions (compiled IR documents: saved, activated, retired) and the approval
requests a version waits on before it goes live (runtime/approvals.py decides when), with
the count of changes to them a running daemon watches (`APPROVALS`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa

from playbook.runtime import schema as s
from playbook.runtime.approvals import ApprovalRow
from playbook.runtime.rows import VersionRow
from playbook.runtime.storage.database import Database

# engine_state, store-wide (shard 0's row): how many times an approval was asked, decided or
# replaced so far — what a daemon's idle shards watch to take a decision in (storage/waiting.py)
APPROVALS = "approvals"


class PlaybookVersions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save_version(self, document: Mapping[str, Any]) -> bool:
        """Keep a compiled playbook (its IR document); True when the version is new."""
        row = {"version": document["version"], "name": document.get("name") or document.get("title") or "",
               "document": dict(document), "created_at": self.db.now()}  # fmt: skip
        with self.db.write() as conn:
            stmt = self.db.insert(s.playbook_versions).values(row).on_conflict_do_nothing()
            return conn.execute(stmt.returning(s.playbook_versions.c.version)).first() is not None

    def activate_version(self, version: str) -> None:
        with self.db.write() as conn:
            t = s.playbook_versions
            conn.execute(t.update().where(t.c.version == version).values(activated_at=self.db.now(), retired_at=None))

    def retire_version(self, version: str) -> None:
        with self.db.write() as conn:
            t = s.playbook_versions
            conn.execute(t.update().where(t.c.version == version).values(retired_at=self.db.now()))

    def make_current(self, versions: Collection[str]) -> None:
        """`versions` become the running ones and every other active version is retired, in
        one transaction: a reader never sees no version running in the middle of a reload."""
        t = s.playbook_versions
        now = self.db.now()
        with self.db.write() as conn:
            active = sa.and_(t.c.activated_at.is_not(None), t.c.retired_at.is_(None))
            conn.execute(t.update().where(active, t.c.version.not_in(list(versions))).values(retired_at=now))
            conn.execute(t.update().where(t.c.version.in_(list(versions))).values(activated_at=now, retired_at=None))

    def versions(self, *, active: bool | None = None, documents: bool = True) -> list[VersionRow]:
        """Saved versions, oldest first; active=True: activated and not retired."""
        t = s.playbook_versions
        columns = [t.c.version, t.c.name, t.c.document if documents else sa.null(), t.c.created_at,
                   t.c.activated_at, t.c.retired_at]  # fmt: skip
        query = sa.select(*columns).order_by(t.c.created_at, t.c.version)
        if active is not None:
            live = sa.and_(t.c.activated_at.is_not(None), t.c.retired_at.is_(None))
            query = query.where(live if active else sa.not_(live))
        with self.db.read() as conn:
            return [VersionRow(*row) for row in conn.execute(query)]

    def get_version(self, version: str) -> VersionRow | None:
        t = s.playbook_versions
        with self.db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.version == version)).first()
        return VersionRow(*row) if row else None

    # ---- approvals (runtime/approvals.py) ------------------------------------------------------------------
    def request_approval(self, version: str, touches: int, policy: str, summary: Mapping[str, Any]) -> bool:
        """A version waits for approval; True when asked now. A version asked before keeps
        its request or decision, unless it was replaced before a decision (loaded again: it
        is asked again)."""
        a = s.approvals
        row = {"version": version, "state": "pending", "touches": touches, "policy": policy,
               "summary": dict(summary), "requested_at": self.db.now()}  # fmt: skip
        again = {k: v for k, v in row.items() if k != "version"}
        again.update(decided_at=None, decided_by=None, note=None)
        with self.db.write() as conn:
            stmt = self.db.insert(a).values(row)
            stmt = stmt.on_conflict_do_update(index_elements=[a.c.version], set_=again, where=a.c.state == "replaced")
            asked = conn.execute(stmt.returning(a.c.version)).first() is not None
            if asked:
                self.db.count_up(conn, APPROVALS)
            return asked

    def replace_pending(self, keep: Collection[str]) -> list[str]:
        """Pending requests of versions not in `keep` (a newer version was loaded before a
        decision) become `replaced`; returns those versions."""
        a = s.approvals
        with self.db.write() as conn:
            query = a.update().where(a.c.state == "pending", a.c.version.not_in(list(keep)))
            done = sorted(r.version for r in conn.execute(query.values(state="replaced", decided_at=self.db.now())
                                                          .returning(a.c.version)))  # fmt: skip
            if done:
                self.db.count_up(conn, APPROVALS)
            return done

    def decide_approval(self, version: str, state: str, by: str | None, note: str | None) -> ApprovalRow | None:
        """pending → approved or rejected (compare-and-set: one decision per request);
        None when `version` has no pending request."""
        a = s.approvals
        with self.db.write() as conn:
            query = a.update().where(a.c.version == version, a.c.state == "pending")
            done = conn.execute(query.values(state=state, decided_at=self.db.now(), decided_by=by, note=note)
                                .returning(*a.c))  # fmt: skip
            row = done.first()
            if row is None:
                return None
            self.db.count_up(conn, APPROVALS)
            return ApprovalRow(*row)

    def approvals(self) -> list[ApprovalRow]:
        """Every request and decision, the latest request first."""
        a = s.approvals
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*a.c).order_by(a.c.requested_at.desc(), a.c.version))
            return [ApprovalRow(*row) for row in rows]
