"""The store's tables (SQLAlchemy Core). The migrations in `migrations/` create exactly
these; a test compares the two on SQLite and PostgreSQL.

Kept apart from `store.py` so that the migrations' env.py (and anything that only needs
the shape) imports the tables without the store's connection code.

Times (codec.py): `Seconds` columns are BIGINT seconds since the epoch, UTC — the
engine's instants; `UTCDateTime` columns are timezone-aware UTC bookkeeping times.
JSON columns are `Value` (engine values, tagged so types round-trip) or `Doc` (plain JSON).
"""

from __future__ import annotations

import sqlalchemy as sa

from playbook.runtime.codec import Doc, UTCDateTime, Value

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

Seconds = sa.BigInteger  # an engine instant: seconds since the epoch, UTC
# SQLite only makes an INTEGER PRIMARY KEY the rowid (autoincrementing); BIGINT elsewhere.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

EVENT_SOURCES = ("http", "file", "cli", "adapter", "simulated")
EVENT_STATUSES = ("new", "processed", "rejected")
ENROLMENT_STATUSES = ("active", "done", "exited")
CHANNELS = ("dm", "group", "moment", "task", "tag")  # tag: a playbook's tag action, for adapters that sync tags
OUTCOMES = ("ok", "deferred", "skipped")
# held: the engine is still holding it (quiet hours, a defer limit); pending: due, waiting
# for dispatch; sending: claimed by a dispatcher, the adapter may have been called;
# failed: a transient error, tried again at next_attempt_at; unknown: a crash left it
# `sending` and the adapter cannot tell; dead: a permanent error (dead letter).
TOUCH_STATES = ("held", "pending", "sending", "sent", "failed", "skipped", "unknown", "dead")
DUE_STATES = ("pending", "failed")  # what a dispatcher claims when next_attempt_at has come


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _version_fk(nullable: bool = False) -> sa.Column:
    return sa.Column("version", sa.String, sa.ForeignKey("playbook_versions.version"), nullable=nullable)


playbook_versions = sa.Table(
    "playbook_versions",
    metadata,
    sa.Column("version", sa.String, primary_key=True),  # the IR's hash ("pb-…")
    sa.Column("name", sa.String, nullable=False),
    sa.Column("document", Doc(), nullable=False),  # the IR as `compile --json` prints it
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("activated_at", UTCDateTime),
    sa.Column("retired_at", UTCDateTime),
    sa.Index("ix_playbook_versions_name", "name"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("fields", Value, nullable=False),  # every field but id
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("account", sa.String),  # = fields["account"], a column to find an account's contacts
    sa.Column("fields", Value, nullable=False),  # every field but id (account included)
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),  # vocab.shards.shard_of (0008)
    sa.Index("ix_contacts_account", "account"),
    sa.Index("ix_contacts_shard", "shard", "updated_at"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),  # arrival order, never reused
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("at", Seconds, nullable=False),  # when it happened
    sa.Column("type", sa.String, nullable=False),
    sa.Column("contact", sa.String, nullable=False),
    sa.Column("data", Value, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False, server_default="new"),
    sa.Column("processed_at", UTCDateTime),
    sa.Column("reason", sa.Text),  # why it was rejected
    # the shard whose engine takes it: its contact's (storage/routing.py), fixed when stored
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint(_in("source", EVENT_SOURCES), name="source"),
    sa.CheckConstraint(_in("status", EVENT_STATUSES), name="status"),
    # "the next unprocessed events in order": only new rows are in it, so it stays small
    sa.Index(
        "ix_events_new", "seq", sqlite_where=sa.text("status = 'new'"), postgresql_where=sa.text("status = 'new'")
    ),
    sa.Index(
        "ix_events_shard_new",
        "shard",
        "seq",
        sqlite_where=sa.text("status = 'new'"),
        postgresql_where=sa.text("status = 'new'"),
    ),
    sa.Index("ix_events_contact", "contact", "at"),
    sa.Index("ix_events_type", "type", "at"),
    sqlite_autoincrement=True,  # seq stays increasing even after old rows are pruned
)

# Event ids already taken (issue 19, "idempotent intake"): a repeated id is acknowledged
# with the first event's seq and not stored again. `digest` is the event's content (type,
# contact, at, data without the id), so a reused id carrying another event is told apart
# from a retry. Rows older than the retention window (`[intake] remember_ids`) are pruned.
event_ids = sa.Table(
    "event_ids",
    metadata,
    sa.Column("id", sa.String, primary_key=True),  # the event's id, or "~<signature>/<index>" for a signed request
    sa.Column("seq", sa.BigInteger, nullable=False),  # the event stored under it
    sa.Column("digest", sa.String, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index("ix_event_ids_received_at", "received_at"),
)

enrolments = sa.Table(
    "enrolments",
    metadata,
    _version_fk(),
    sa.Column("journey", sa.String, nullable=False),
    sa.Column("contact", sa.String, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),  # 1 for the first entry, 2 for a re-entry …
    sa.Column("entered_at", Seconds, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False, server_default="0"),
    sa.Column("event", Value),  # the event it entered on
    sa.Column("arms", Doc(), nullable=False),  # split step id -> arm name
    sa.Column("wait", sa.String),  # the wait node while waiting for an event
    sa.Column("touch", sa.String),  # idempotency key of the touch the enrolment waits for
    sa.Column("goal_at", Seconds),
    sa.Column("segments", Doc(), nullable=False),  # segments the contact was in at entry
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),  # vocab.shards.shard_of (0008)
    sa.PrimaryKeyConstraint("version", "journey", "contact", "n"),
    sa.CheckConstraint(_in("status", ENROLMENT_STATUSES), name="status"),
    sa.Index("ix_enrolments_contact", "contact"),
    sa.Index("ix_enrolments_status", "version", "journey", "status"),
    sa.Index("ix_enrolments_shard", "shard"),
)

timers = sa.Table(
    "timers",
    metadata,
    # numbered by the engine of its shard (each shard's engine counts its own items): the key is (shard, seq)
    sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
    sa.Column("due", Seconds, nullable=False),
    sa.Column("phase", sa.SmallInteger, nullable=False),
    sa.Column("order_key", Value, nullable=False),  # the item's `order` tuple
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("payload", Value, nullable=False),
    _version_fk(nullable=True),  # None: the engine's own (the day tick)
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),
    sa.Column("account", sa.String),
    sa.PrimaryKeyConstraint("shard", "seq"),
    sa.Index("ix_timers_due", "due"),
    sa.Index("ix_timers_shard", "shard", "due"),
)

limit_counters = sa.Table(
    "limit_counters",
    metadata,
    # the playbook (playbook_versions.name: all its versions count together), or "platform"
    sa.Column("scope", sa.String, nullable=False),
    sa.Column("rule", sa.String, nullable=False),  # what the rule counts: "dm per contact per day"
    sa.Column("scope_id", sa.String, nullable=False),  # the contact or account counted
    sa.Column("period_start", Seconds, nullable=False),
    sa.Column("period_end", Seconds, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),  # vocab.shards.shard_of (0008)
    sa.PrimaryKeyConstraint("scope", "rule", "scope_id", "period_start"),
    sa.Index("ix_limit_counters_shard", "shard"),
    sa.Index("ix_limit_counters_period_end", "period_end"),  # pruning old periods
)

_due = sa.text(_in("state", DUE_STATES))
_AWAITING = "state = 'sent' AND receipt IS NULL AND adapter_ref IS NOT NULL"
touches = sa.Table(
    "touches",
    metadata,
    sa.Column("key", sa.String, primary_key=True),  # idempotency key
    _version_fk(),
    sa.Column("flow", sa.String, nullable=False),
    sa.Column("step", sa.String, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("account", sa.String),
    sa.Column("contact", sa.String),
    sa.Column("group_id", sa.String),
    sa.Column("due", Seconds, nullable=False),  # when the flow wanted it
    sa.Column("at", Seconds),  # when the engine let it go (or gave it up)
    sa.Column("content", sa.String),  # content name
    sa.Column("text", sa.Text, nullable=False),  # rendered
    sa.Column("parts", Doc()),  # rendered image/link/mini-program parts
    sa.Column("audience", Doc()),  # a Moments post: contact ids who see it
    sa.Column("outcome", sa.String),  # the engine's: ok | deferred | skipped
    sa.Column("reason", sa.Text, nullable=False),  # the engine's: why deferred/skipped, in English
    sa.Column("reason_code", sa.String),  # …its code (vocab/reasons.py); NULL: none, or a row older than 0007
    sa.Column("reason_args", Doc()),  # …its arguments (codec.reason_columns)
    sa.Column("state", sa.String, nullable=False),
    sa.Column("error", sa.Text),  # dispatch: the last error, or why it is dead/unknown
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Seconds),  # pending/failed: when a dispatcher may take it
    sa.Column("owner", sa.String),  # the dispatcher that claimed it
    sa.Column("adapter", sa.String),
    sa.Column("adapter_ref", sa.String),  # the platform's id for what was sent
    sa.Column("request", Value),  # held: what the engine needs to try it again
    sa.Column("receipt", sa.String),  # what the platform said later (confirmed, not_friend, quota, unconfirmed …)
    sa.Column("receipt_at", Seconds),  # when that happened (a staff member's confirmation: when they sent it)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),  # vocab.shards.shard_of (0008)
    sa.CheckConstraint(_in("state", TOUCH_STATES), name="state"),
    sa.CheckConstraint(_in("channel", CHANNELS), name="channel"),
    # "what is due now" (and by account, for sharding) only looks at live rows
    sa.Index("ix_touches_due", "next_attempt_at", sqlite_where=_due, postgresql_where=_due),
    sa.Index("ix_touches_account_due", "account", "next_attempt_at", sqlite_where=_due, postgresql_where=_due),
    sa.Index("ix_touches_shard_due", "shard", "next_attempt_at", sqlite_where=_due, postgresql_where=_due),
    sa.Index("ix_touches_shard_state", "shard", "state"),
    sa.Index("ix_touches_state", "state"),
    sa.Index("ix_touches_flow", "version", "flow", "state"),
    sa.Index("ix_touches_contact", "contact"),
    sa.Index(
        "ix_touches_awaiting_receipt",
        "adapter",
        "updated_at",
        sqlite_where=sa.text(_AWAITING),
        postgresql_where=sa.text(_AWAITING),
    ),
)

group_instances = sa.Table(
    "group_instances",
    metadata,
    _version_fk(),
    sa.Column("id", sa.String, nullable=False),  # GROUP/ACCOUNT/YYYY-MM-DD/N
    sa.Column("group_name", sa.String, nullable=False),
    sa.Column("account", sa.String, nullable=False),
    sa.Column("opens", Seconds, nullable=False),
    sa.Column("closes", Seconds, nullable=False),
    sa.Column("members", Doc(), nullable=False),  # contact ids, in invitation order
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),  # closing steps began
    sa.Column("dissolved", sa.Boolean, nullable=False, server_default=sa.false()),  # closing steps done
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),  # vocab.shards.shard_of (0008)
    sa.PrimaryKeyConstraint("version", "id"),
    sa.Index("ix_group_instances_open", "version", "group_name", "dissolved"),
    sa.Index("ix_group_instances_account", "account"),
    sa.Index("ix_group_instances_shard", "shard"),
)

flow_state = sa.Table(
    "flow_state",
    metadata,
    _version_fk(),
    sa.Column("runner", sa.String, nullable=False),  # e.g. "rotation:回访", "sla:0", "journey:新客"
    sa.Column("item", sa.String, nullable=False),  # e.g. an account id, or "" for the runner's own
    sa.Column("value", Value),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # a runner's own row (item "": a rotation's cycle, an SLA's base) is one per shard's engine
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("shard", "version", "runner", "item"),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("shard", sa.Integer, primary_key=True, autoincrement=False),  # vocab.shards.shard_of(account, n)
    sa.Column("owner", sa.String),
    sa.Column("acquired_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    # the writer's lease (0004): a fencing token bumped at every take-over, checked inside
    # every write of deciding, dispatching and reconciling; who holds it, for the messages
    sa.Column("token", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("host", sa.String),
    sa.Column("pid", sa.Integer),
    sa.Column("renewed_at", UTCDateTime),
)

# What an operator did to the ledger by hand (`playbook requeue`), one row per action (0004).
ledger_actions = sa.Table(
    "ledger_actions",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String, nullable=False),  # requeue
    sa.Column("actor", sa.String, nullable=False),  # user@host (pid)
    sa.Column("criteria", Doc(), nullable=False),  # {"state", "before", "keys"}
    sa.Column("keys", Doc(), nullable=False),  # the touches it moved
    sqlite_autoincrement=True,
)

sequences = sa.Table(
    "sequences",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),  # the next value to hand out
)

state_events = sa.Table(
    "state_events",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),
    sa.Column("at", Seconds, nullable=False),
    sa.Column("type", sa.String, nullable=False),  # enter, exit, goal, tag_added, group_opened, sla_met …
    sa.Column("contact", sa.String),
    sa.Column("flow", sa.String),
    sa.Column("version", sa.String),
    sa.Column("data", Value, nullable=False),
    sa.Column("reason_code", sa.String),  # data's reason (an exit's), as a code: its text stays in data
    sa.Column("reason_args", Doc()),
    sa.Index("ix_state_events_contact", "contact", "at"),
    sa.Index("ix_state_events_flow", "version", "flow", "type"),
    sqlite_autoincrement=True,
)

engine_state = sa.Table(
    "engine_state",
    metadata,
    # each shard's engine keeps its own (its clock, the versions it activated); store-wide
    # values (the import count, a refused reload, the shard count) are shard 0's
    sa.Column("shard", sa.Integer, nullable=False, server_default="0"),
    sa.Column("name", sa.String, nullable=False),  # "clock": the engine's now and start, …
    sa.Column("value", Value),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("shard", "name"),
)

# Touches one shard's engine decided for an account of another shard (0009): an SLA's
# escalation task for a supervisor, written in the deciding shard's commit, deleted in the
# commit of the receiving shard's step that requests it (storage/forwards.py).
forwards = sa.Table(
    "forwards",
    metadata,
    sa.Column("key", sa.String, primary_key=True),  # the touch's idempotency key (the ledger's, once decided)
    sa.Column("shard", sa.Integer, nullable=False),  # the receiving shard: the account's (vocab.shards.shard_of)
    sa.Column("sender", sa.Integer, nullable=False),  # the shard that decided it
    sa.Column("due", Seconds, nullable=False),  # when it was decided; requested then, or at the receiver's now
    _version_fk(),
    sa.Column("account", sa.String, nullable=False),
    sa.Column("contact", sa.String),  # the contact it is about (not reached)
    sa.Column("request", Doc(), nullable=False),  # the rest: flow, step, step_order, priority, text
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_forwards_shard", "shard", "due"),
)

# The daemon processes of a deployment (0008): each renews its row while alive; the live
# ones share the shards (runtime/lease.py, `ShardLeases`).
processes = sa.Table(
    "processes",
    metadata,
    sa.Column("owner", sa.String, primary_key=True),
    sa.Column("host", sa.String),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("renewed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

APPROVAL_STATES = ("pending", "approved", "rejected", "replaced")  # runtime/approvals.py
approvals = sa.Table(
    "approvals",
    metadata,
    _version_fk(),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("touches", sa.Integer, nullable=False),  # what the forecast gave for its first hour
    sa.Column("policy", sa.String, nullable=False),  # `[daemon] approve` when it was asked: "above 50"
    sa.Column("summary", Doc(), nullable=False),  # the first hour's touches by journey and channel
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decided_by", sa.String),
    sa.Column("note", sa.Text),
    sa.PrimaryKeyConstraint("version"),
    sa.CheckConstraint(_in("state", APPROVAL_STATES), name="state"),
)
