"""The one small interface every messaging adapter implements.

The daemon's dispatcher (playbook/runtime/dispatch.py) claims due touches from the ledger,
groups touches of one account, channel, content and instant into batches of at most
`capabilities.batch_size`, and hands each batch to `send`. An adapter reports one
`Result` per delivery; it raises `TransientError` / `PermanentError` when the whole call
failed. After a crash, touches left `sending` are offered to `reconcile`: an adapter that
can ask its platform what happened says so; one that cannot returns nothing for them and
they are marked `unknown` (never re-sent blindly) unless the operator allows
at-least-once delivery for an adapter that is `idempotent` (deduplicates by key).

Adapters are found by entry point (group `playbook.adapters`, see registry.py); each is a
class built with `Adapter(options, secrets)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from playbook.adapters.capabilities import EVERYWHERE, Capabilities

SENT, FAILED, DEAD = "sent", "failed", "dead"
LATER = "later"  # not tried: the adapter's own throttle; due again after retry_after, no attempt used
# only from `reconcile`: the platform proves it never got this delivery (the jsonl outbox
# lacks the key, a webhook receiver says the key is unknown to it) — safe to send again
ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One touch to hand to the platform (a ledger row, as the adapter needs it)."""

    key: str  # idempotency key: playbook version, flow, contact or group, step, occurrence
    version: str
    flow: str
    step: str
    channel: str  # dm | group | moment | task
    account: str | None
    contact: str | None
    group: str | None
    audience: tuple[str, ...] | None  # a Moments post: who may see it
    content: str | None  # content name
    text: str  # rendered
    parts: Mapping[str, Any] | None  # rendered image/link/mini-program parts
    at: int  # when the engine let it go (epoch seconds, UTC)
    due: int  # when the flow wanted it
    attempt: int  # 1 on the first call
    ref: str | None = None  # the platform's id, once sent (for receipts)
    # the store's shard the touch belongs to (its account's, `vocab.shards.shard_of`): one
    # adapter call carries the rows of one shard, fenced by that shard's lease token
    shard: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    """How one delivery ended: sent (ref: the platform's id), failed (transient: tried
    again later, after `retry_after` seconds if the platform said), dead (permanent), or
    later (not tried — the adapter's own throttle — due again after `retry_after`)."""

    key: str
    status: str  # sent | failed | dead | later (from send); sent | failed | dead | absent (from reconcile)
    error: str | None = None
    ref: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the platform said later about a sent touch: `status` is final (confirmed,
    not_friend, quota …); `at` when it happened (a staff member's confirmation: when they
    sent it)."""

    key: str
    status: str
    at: int | None = None


@dataclass(frozen=True)
class HttpRequest:
    """A request to one of an adapter's callback routes (served by the daemon's intake)."""

    method: str  # GET | POST
    path: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class Synced:
    """Contacts and accounts as the platform has them (`Adapter.sync`), for the store's
    idempotent import: plain records ({"id", …}: `added_at` in epoch seconds, `tags` a list of
    names), the known contacts the platform no longer has (`gone`), problems for the operator,
    and the calls made per endpoint."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    # messages contacts received outside the playbooks (a staff member's own mass message) that
    # count toward the platform's quota: (channel, contact, when) — each reported once
    spent: list[tuple[str, str, int]] = field(default_factory=list)
    # events the platform's lists show that no callback gave (who joined or left a group
    # instance's chats): into the event log like any other
    events: list[Any] = field(default_factory=list)


CallbackRoute = Callable[[HttpRequest], HttpResponse]
# What a callback route does with the events it receives: stored in the event log (source
# "adapter") before the route answers, so an acknowledged callback is never lost.
EventSink = Callable[[Sequence[Any]], None]


class AdapterError(Exception):
    """A whole call failed; `reason` is shown to operators (never a secret)."""

    def __init__(self, reason: str, *, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TransientError(AdapterError):
    """Worth trying again (timeouts, 5xx, rate limits)."""


class PermanentError(AdapterError):
    """Trying again will not help (bad request, unknown recipient, auth refused)."""


class Fenced(Exception):
    """The platform has seen a newer writer's fencing token for a shard: this process lost
    that shard's lease and must not send its touches (nothing was sent by this call).
    `shard`: the shard refused (None: the adapter cannot tell which)."""

    def __init__(self, reason: str, *, shard: int | None = None):
        super().__init__(reason)
        self.shard = shard


class Adapter:
    """Base class: override `send`; override `reconcile` if the platform can say what
    happened to a call the daemon did not see the end of."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities(parts=EVERYWHERE)
    idempotent: ClassVar[bool] = False  # the receiver deduplicates by key
    gives_receipts: ClassVar[bool] = False  # the platform reports on sent touches later (`receipts`)
    # The playbook's timezone, set by the daemon once the playbooks are loaded: an adapter that
    # shows times to people (console) shows them in it, with the offset.
    timezone: str = "UTC"

    def __init__(self, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None):
        self.options = dict(options or {})
        self.secrets = dict(secrets or {})

    def open(self) -> None:
        """Called once before the first send (connect, check credentials)."""

    def fence(self, token: int, shard: int = 0) -> None:
        """Called each time the daemon takes a shard's lease, before `reconcile`, with that
        lease's fencing token (it grows with every take-over of the shard; one store-wide
        writer is shard 0). An adapter whose platform can keep a token per shard makes every
        later call carrying that shard's touches under an older token fail with `Fenced` — so
        a process paused past its lease cannot deliver a shard's touches after the shard's
        new holder reconciled, while its calls for shards it still holds go on (jsonl: a
        `.fence` file beside the outbox; webhook: the `X-Playbook-Fence` and
        `X-Playbook-Shard` headers). Default: nothing (the daemon's lease check before each
        call is then the guard)."""

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        raise NotImplementedError

    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """Results for touches a crash left `sending`, where the platform can tell: sent,
        failed, dead, or `ABSENT` when it proves it never got one (it goes back to pending
        and is sent again); the ones not returned are unknown. Called only by the holder of
        the store's lease, after the previous holder's lease ended."""
        return []

    def probe(self, accounts: Sequence[str]) -> list[str]:
        """A start-up check with cheap calls (after `open`, before anything is due): problems an
        operator must fix (permissions, visible range, trusted IP), as messages; none: []."""
        return []

    def callbacks(self, deliver: EventSink) -> Mapping[str, CallbackRoute]:
        """HTTP routes the platform calls (path → handler), served beside `POST /events`;
        each authenticates its caller itself (WeCom: the msg_signature). A handler turns
        what it receives into events and hands them to `deliver`."""
        return {}

    def receipts(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Final reports on sent touches (each has its `ref`); the ones not returned are
        asked about again later."""
        return []

    def sync_due(self, now: float) -> bool:
        """Whether `sync` has something to read now (a schedule came, or callbacks named
        customers to read again). Cheap: the daemon asks every turn."""
        return False

    def sync(self, known: Mapping[str, str | None], now: float, *, full: bool = False,
             quota: bool = False) -> Synced:  # fmt: skip
        """Contacts and accounts from the platform: everything when `full` (or when a scheduled
        sync is due), else the customers callbacks named. `known`: the stored, not deleted
        contacts → their account (to keep owners and tell who is gone). With `quota`, a full sync
        also reports the quota spent outside the playbooks (`Synced.spent`, each once: the caller
        must count it). Raises AdapterError."""
        raise PermanentError(f"the {self.name or 'this'} adapter cannot read contacts from its platform")

    def close(self) -> None:
        """Called once on shutdown, after in-flight calls are drained."""
