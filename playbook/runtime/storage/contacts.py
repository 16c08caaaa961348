"""Contacts and accounts: imported from outside (idempotent, `import_records`), loaded
as engine records, and the count of imports a running daemon watches to take them in
without a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s
from playbook.runtime.codec import encode
from playbook.runtime.rows import UpsertCounts
from playbook.runtime.storage.database import BATCH, Database, key_text
from playbook.runtime.storage.routing import contact_routes, first_sight, shard_count

IMPORTED = "imported"  # engine_state: see Contacts._note_import
_PLAIN = sa.JSON(none_as_null=True)  # a Value column read or written as its stored JSON


def _unwrap(fields: dict[str, Any]) -> dict[str, Any]:
    """Stored fields (encoded) as a dict of encoded values (see codec's "$dict")."""
    return fields["$dict"] if len(fields) == 1 and "$dict" in fields else fields


def _wrap(fields: dict[str, Any]) -> dict[str, Any]:
    return {"$dict": fields} if len(fields) == 1 and next(iter(fields)).startswith("$") else fields


def account_of(fields: Mapping[str, Any]) -> str | None:
    """A contact's account as stored in the indexed `account` column."""
    account = fields.get("account")
    return None if account is None else key_text(account)


class Contacts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def import_records(self, kind: str, records: Iterable[Mapping[str, Any]],
                       progress: Callable[[int], None] | None = None) -> UpsertCounts:  # fmt: skip
        """Idempotent import of contact or account records ({"id", …fields}). A record's
        fields overwrite the stored ones and fields it lacks are kept (events may have set
        them: orders, spent, tags…); a record that changes nothing counts as unchanged.
        Committed every BATCH rows: an interrupted import is completed by running it again."""
        table = {"contacts": s.contacts, "accounts": s.accounts}[kind]
        counts = UpsertCounts()
        batch: list[Mapping[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= BATCH:
                counts.add(self._import_batch(table, batch))
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            counts.add(self._import_batch(table, batch))
            if progress:
                progress(len(batch))
        return counts

    def _import_batch(self, table: sa.Table, records: list[Mapping[str, Any]]) -> UpsertCounts:
        # Compared and merged in the stored (encoded) form: decoding every stored row and
        # re-encoding both sides was most of the time of a re-import.
        incoming: dict[str, dict[str, Any]] = {}
        for record in records:  # a later record with the same id merges into the earlier one
            fields = {k: encode(v) for k, v in record.items() if k != "id"}
            incoming.setdefault(key_text(record["id"]), {}).update(fields)
        counts = UpsertCounts()
        now = self.db.now()
        contacts = table is s.contacts
        stored = sa.type_coerce(table.c.fields, _PLAIN)
        with self.db.write() as conn:
            query = sa.select(table.c.id, stored).where(table.c.id.in_(list(incoming)))
            existing = {rid: _unwrap(fields) for rid, fields in conn.execute(query)}
            count = shard_count(self.db, conn) if contacts else 1
            new = [rid for rid in incoming if rid not in existing]
            routed = contact_routes(conn, new) if count > 1 and new else {}
            inserts, updates = [], []
            for rid, fields in incoming.items():
                old = existing.get(rid)
                if old is None:
                    row = {"id": rid, "fields": _wrap(fields), "updated_at": now}
                    if contacts:  # a new contact's route: its stored events', else its account's shard
                        shard = routed.get(rid)
                        shard = first_sight(fields, count) if shard is None else shard
                        row.update(account=account_of(fields), deleted=False, shard=shard)
                    inserts.append(row)
                elif all(k in old and type(old[k]) is type(v) and old[k] == v for k, v in fields.items()):
                    counts.unchanged += 1  # exact types: 1, 1.0, True and {"$time": 1} all differ
                else:
                    merged = {**old, **fields}
                    row = {"b_id": rid, "fields": _wrap(merged), "updated_at": now}
                    if contacts:
                        row["account"] = account_of(merged)
                    updates.append(row)
            plain = sa.bindparam("fields", type_=_PLAIN)
            if inserts:
                extra = ({"account": sa.bindparam("account"), "deleted": sa.bindparam("deleted"),
                          "shard": sa.bindparam("shard")} if contacts else {})  # fmt: skip
                stmt = table.insert().values(id=sa.bindparam("id"), fields=plain,
                                             updated_at=sa.bindparam("updated_at"), **extra)  # fmt: skip
                conn.execute(stmt, inserts)
            if updates:
                values: dict[str, Any] = {"fields": plain, "updated_at": sa.bindparam("updated_at")}
                if contacts:
                    values["account"] = sa.bindparam("account")
                conn.execute(table.update().where(table.c.id == sa.bindparam("b_id")).values(values), updates)
            if inserts or updates:
                self._note_import(conn, now)
        counts.inserted, counts.updated = len(inserts), len(updates)
        return counts

    def _note_import(self, conn: Connection, now: dt.datetime) -> None:
        """Tell a running daemon that contacts or accounts changed from outside (engine_state
        "imported": how many imports so far), so it takes them in without a restart."""
        self.db.count_up(conn, IMPORTED, now)

    def imports(self) -> int:
        """How many imports changed something so far (0: none)."""
        es = s.engine_state
        with self.db.read() as conn:
            query = sa.select(es.c.value).where(es.c.shard == 0, es.c.name == IMPORTED)
            return conn.execute(query).scalar_one_or_none() or 0

    def contacts_changed_since(self, since: float) -> tuple[list[dict[str, Any]], set[str], list[dict[str, Any]]]:
        """Contacts (as engine records) and their deleted ids updated at or after `since`
        (epoch seconds), and every account: what a daemon takes in after an import."""
        t = s.contacts
        when = dt.datetime.fromtimestamp(since, dt.UTC)
        with self.db.read() as conn:
            records, deleted = [], set()
            query = (sa.select(t.c.id, t.c.fields, t.c.deleted)
                     .where(t.c.updated_at >= when, self.db.in_shard(t.c.shard)).order_by(t.c.id))  # fmt: skip
            for cid, fields, gone in conn.execute(query):
                records.append({"id": cid, **fields})
                if gone:
                    deleted.add(cid)
            return records, deleted, read_accounts(conn)

    def load_contacts(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Every contact as an engine record ({"id", …fields}), and the deleted ones' ids."""
        with self.db.read() as conn:
            return read_contacts(conn, self.db.shard)

    def contact_accounts(self) -> dict[str, str | None]:
        """Every contact not deleted → its account (the indexed column, no fields decoded): what
        a platform sync compares with."""
        t = s.contacts
        with self.db.read() as conn:
            query = sa.select(t.c.id, t.c.account).where(t.c.deleted == sa.false())
            return {str(cid): account for cid, account in conn.execute(query)}

    def load_accounts(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return read_accounts(conn)


def read_contacts(conn: Connection, shard: int | None = None) -> tuple[list[dict[str, Any]], set[str]]:
    """Every contact (of `shard`; None: of all) as an engine record ({"id", …fields}), and
    the deleted ones' ids."""
    t = s.contacts
    records, deleted = [], set()
    query = sa.select(t.c.id, t.c.fields, t.c.deleted).order_by(t.c.id)
    if shard is not None:
        query = query.where(t.c.shard == shard)
    for cid, fields, gone in conn.execute(query):
        records.append({"id": cid, **fields})
        if gone:
            deleted.add(cid)
    return records, deleted


def read_accounts(conn: Connection) -> list[dict[str, Any]]:
    """Every account as an engine record ({"id", …fields})."""
    t = s.accounts
    return [{"id": aid, **fields} for aid, fields in conn.execute(sa.select(t.c.id, t.c.fields).order_by(t.c.id))]
