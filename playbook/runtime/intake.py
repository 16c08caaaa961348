"""The event intake endpoint: `POST /events` with one event or a JSON array of them.

    server = IntakeServer(store, IntakeConfig(token=os.environ["PLAYBOOK_INTAKE_TOKEN"]))
    server.start()            # serves on 127.0.0.1:8787 in a background thread
    ...
    server.stop()

A request is authenticated by `Authorization: Bearer <token>` or by
`X-Playbook-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + the raw body>` with the
Unix time it was signed in `X-Playbook-Timestamp` (refused outside ±5 minutes of this
clock, so a captured request cannot be replayed later); both compared in constant time; a
presented credential that is wrong is refused even if another is right. Its body is at
most `max_body` bytes (413) and nested at most `max_depth` levels (400). Each event is
{"type", "contact", "at", "id"?, …data}: pydantic checks the envelope, then
`data.files.event_from_record` — the one validation `plan` uses too — types the fields.

Idempotent: an event's `id` (or the `Idempotency-Key` header of a single event; the events
of a signed request without ids are named by its signature) is taken once —
`Store.log_events` — and a repeat is acknowledged with the first one's sequence number and
not stored again, as long as the id is remembered (`[intake] remember_ids`, 30 days). An
id reused for a different event is refused (409). Times far off the clock follow
`time_rule`: more than a day ahead is refused, a few minutes ahead or a month behind is
taken with a warning. All events of a request are appended in one transaction (source
"http"); a request with any problem stores nothing. Errors are JSON: {"error": …} and,
for invalid events (422), "errors": [{"index", "field", "message"}]. `GET /health` answers
200 without credentials.

Why the standard library's ThreadingHTTPServer and not an ASGI stack: the endpoint is two
routes with small bodies whose cost is the store's write transaction, not HTTP parsing;
it needs no event loop next to the daemon's scheduler threads, and adds no dependency.
The servers that were candidates (uvicorn, hypercorn) do not give what the intake needs
anyway — a deadline for receiving a whole request (a client sending 1 byte a second
never trips a per-read timeout) and a bound per client — so those are here, in a few
lines: `read_timeout` is the time a connection has to deliver a request (head and
body; a reaper thread shuts the ones that overrun), `max_per_client` connections per
address (more are answered 503 at once), `max_connections` in all (beyond it the
connection that has waited longest for its request is dropped, so a crowd of slow
clients cannot lock out a live one), and a listen backlog of `backlog`. It is meant to
sit on 127.0.0.1 (the default) behind a reverse proxy for TLS.

Secrets come from the caller (the environment or the config, see `IntakeConfig.from_env`)
and are never logged: the request log carries the method, the path without its query
string (a token may be in it) and the status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbook.adapters.base import CallbackRoute, HttpRequest, HttpResponse
from playbook.data.files import event_from_record
from playbook.data.values import DataValueError, parse_time, typed
from playbook.i18n import N_, t
from playbook.runtime.importing import store_timezone
from playbook.runtime.store import Store, StoreError
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event

log = logging.getLogger("playbook.intake")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 1 << 20  # bytes (1 MiB)
DEFAULT_MAX_DEPTH = 16  # JSON nesting: an array of events of flat objects needs 2
DEFAULT_READ_TIMEOUT = 10.0  # seconds a connection has to deliver one request, head and body
DEFAULT_MAX_CONNECTIONS = 512  # open connections in all (a thread each)
DEFAULT_MAX_PER_CLIENT = 32  # open connections from one address
DEFAULT_BACKLOG = 1024  # listen queue (the kernel caps it at net.core.somaxconn)
DEFAULT_REMEMBER_IDS = 30 * 86400.0  # seconds an event id is remembered
SKEW = 300  # seconds: X-Playbook-Timestamp may differ this much from the intake's clock
RETRY_AFTER = 5  # seconds, in a 503's Retry-After
TOKEN_ENV = "PLAYBOOK_INTAKE_TOKEN"
SECRET_ENV = "PLAYBOOK_INTAKE_SECRET"
SIGNATURE_HEADER = "X-Playbook-Signature"
TIMESTAMP_HEADER = "X-Playbook-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ID = 200  # characters of an event id

# The rule for events far from the clock (docs/daemon.md, "Events far in the past or future").
FUTURE_REFUSED = 86400  # seconds ahead: an event cannot have happened yet; beyond a day it is refused
FUTURE_WARNED = 300  # seconds ahead: beyond clock skew, taken (it waits for its time) with a warning
PAST_WARNED = 30 * 86400  # seconds behind: taken with a warning (flows react now, not back then)


@dataclass(frozen=True)
class IntakeConfig:
    token: str | None = None  # bearer token
    secret: str | None = None  # HMAC-SHA256 key
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port
    max_body: int = DEFAULT_MAX_BODY
    timezone: str | None = None  # of times without an offset (default: the active playbook's)

    events: bool = True  # False: only adapter callback routes are served (no token or secret configured)
    max_depth: int = DEFAULT_MAX_DEPTH
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_per_client: int = DEFAULT_MAX_PER_CLIENT
    backlog: int = DEFAULT_BACKLOG

    def __post_init__(self) -> None:
        if self.events and not self.token and not self.secret:
            raise ValueError(f"the intake endpoint needs a token or a secret (set {TOKEN_ENV} or {SECRET_ENV})")
        for name in ("max_body", "max_depth", "read_timeout", "max_connections", "max_per_client", "backlog"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def __repr__(self) -> str:  # never show the secrets
        return f"IntakeConfig(host={self.host!r}, port={self.port}, max_body={self.max_body}, token=…, secret=…)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> IntakeConfig:
        env = os.environ if environ is None else environ
        return cls(token=env.get(TOKEN_ENV) or None, secret=env.get(SECRET_ENV) or None, **kwargs)


def sign(body: bytes, secret: str, timestamp: int | str) -> str:
    """The X-Playbook-Signature value for a body sent with X-Playbook-Timestamp: `timestamp`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class EventEnvelope(BaseModel):
    """What every event must have; the other keys are its data (typed by event_from_record)."""

    # a numeric contact id is text, as in data files; type and at must be strings
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, str_strip_whitespace=True)
    type: str = Field(min_length=1, max_length=200, strict=True)
    contact: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")
    at: str = Field(min_length=1, max_length=100, strict=True)  # a time like 2026-12-01T09:00:00+08:00
    id: str | None = Field(None, min_length=1, max_length=MAX_ID, pattern=r"^[^\x00]*$")  # makes it idempotent


class IntakeError(Exception):
    """A refused request: its HTTP status and JSON body."""

    def __init__(self, status: HTTPStatus, message: str, errors: list[dict[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": message}
        if errors is not None:
            self.body["errors"] = errors
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class TimeNote:
    """What `time_rule` says about an event's time: refused, or taken with a warning.
    `reason` is English (JSON answers, like every reason there); `message()` is in the
    operator's language."""

    refused: bool
    template: str
    values: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.template.format(**self.values)

    def message(self) -> str:
        return t(self.template, **self.values)


def time_rule(at: int, now: float) -> TimeNote | None:
    """Events far from the clock (the rule in docs/daemon.md): more than a day ahead is
    refused — it cannot have happened, and parked it would act by surprise when its time
    comes (a year typed wrong, milliseconds read as seconds); more than five minutes
    ahead (beyond clock skew) is taken, waits for its time, and is warned about; more
    than 30 days behind is taken (it updates the contact; flows react to it now, not
    back then) and warned about."""
    ahead = at - now
    days = round(abs(ahead) / 86400, 1)
    if ahead > FUTURE_REFUSED:
        return TimeNote(True, N_("the event is {days} days in the future; events more than 1 day ahead are refused"),
                        {"days": days})  # fmt: skip
    if ahead > FUTURE_WARNED:
        minutes = round(ahead / 60)
        return TimeNote(False, N_("the event is {minutes} minutes in the future: it waits until then"),
                        {"minutes": minutes})  # fmt: skip
    if -ahead > PAST_WARNED:
        return TimeNote(False, N_("the event is {days} days old: flows react to it now, not back then"),
                        {"days": days})  # fmt: skip
    return None


def _depth_over(doc: Any, limit: int) -> bool:
    """Whether a parsed JSON document nests deeper than `limit` (iteratively)."""
    stack = [(doc, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_events(body: bytes, clock: LocalTime, max_depth: int = DEFAULT_MAX_DEPTH) -> list[Event]:
    """The events of a request body (one object or an array), or IntakeError (400 / 422)."""
    too_deep = f"the body nests JSON deeper than {max_depth} levels"
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise IntakeError(HTTPStatus.BAD_REQUEST, "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise IntakeError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                                                  f"column {exc.colno}") from None  # fmt: skip
    except RecursionError:  # deeper than the interpreter's limit (~1000): the parser gives up at once
        raise IntakeError(HTTPStatus.BAD_REQUEST, too_deep) from None
    if _depth_over(doc, max_depth):
        raise IntakeError(HTTPStatus.BAD_REQUEST, too_deep)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise IntakeError(HTTPStatus.BAD_REQUEST, "the batch is empty")
    events: list[Event] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "field": None, "message": "an event must be a JSON object"})
            continue
        try:
            envelope = EventEnvelope.model_validate(item)
        except ValidationError as exc:
            for e in exc.errors():
                field_ = ".".join(str(p) for p in e["loc"]) or None
                errors.append({"index": index, "field": field_, "message": e["msg"]})
            continue
        record = {**item, "type": envelope.type, "contact": envelope.contact, "at": envelope.at}
        if envelope.id is not None:
            record["id"] = envelope.id
        try:
            events.append(event_from_record(record, clock, index))
        except DataValueError as exc:
            errors.append({"index": index, "field": _field_of(record, clock), "message": str(exc)})
    if errors:
        raise IntakeError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid events: nothing was stored", errors)
    return events


def _field_of(record: dict[str, Any], clock: LocalTime) -> str | None:
    """Which field event_from_record refused (its message says why, this says where)."""
    try:
        parse_time(record["at"], clock)
    except DataValueError:
        return "at"
    for key, raw in record.items():
        if key not in ("type", "contact", "at"):
            try:
                typed(key, raw, clock)
            except DataValueError:
                return key
    kind = record["type"]
    if kind == "purchase":
        return "amount"
    if kind in ("tag_added", "tag_removed"):
        return "tag"
    return None


class Headers(Protocol):
    def get(self, name: str, default: Any = None, /) -> Any: ...


class EventsEndpoint:
    """`POST /events` without the HTTP plumbing: headers and body in, status and JSON out.
    Every refusal is an IntakeError; a store that cannot be used is a 503 with Retry-After
    (nothing stored: the request is one transaction)."""

    def __init__(self, store: Store, config: IntakeConfig, clock: LocalTime,
                 now: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.store = store
        self.config = config
        self.clock = clock
        self.now = now
        self.store_down = False  # the store refused the last write (logged once per outage)

    def handle(self, headers: Headers, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        try:
            answer = self._handle(headers, body)
        except StoreError as exc:
            self.outage(exc)
            raise IntakeError(HTTPStatus.SERVICE_UNAVAILABLE, "the store is unavailable; retry later",
                              headers={"Retry-After": str(RETRY_AFTER)}) from exc  # fmt: skip
        self.store_down = False
        return answer

    def outage(self, exc: StoreError) -> None:
        """Logged once per outage (the daemon says what to do); every request meanwhile
        gets 503 with Retry-After and nothing of it is stored."""
        if self.store_down:
            log.debug("event intake: the store refused: %s", exc)
        else:
            self.store_down = True
            log.error("event intake: the store refused, answering 503 until it is back: %s", exc)

    def _handle(self, headers: Headers, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        signature = self.authenticate(headers, body)
        events = parse_events(body, self.clock, self.config.max_depth)
        ids = self._ids(events, headers.get(IDEMPOTENCY_HEADER), signature)
        now = self.now()
        errors: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            note = time_rule(event.at, now)
            if note is not None:
                (errors if note.refused else warnings).append({"index": index, "field": "at", "message": note.reason})
        if errors:
            raise IntakeError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid events: nothing was stored", errors)
        logged = self.store.log_events(events, "http", ids, all_or_nothing=True)
        if logged.conflicts:
            taken = [{"index": i, "field": "id", "message": f"the id {ids[i]!r} is already taken by a different event"}
                     for i in logged.conflicts]  # fmt: skip
            raise IntakeError(HTTPStatus.CONFLICT, "an event id is taken by a different event: nothing was stored",
                              taken)  # fmt: skip
        for warning in warnings:
            log.warning("event intake: event %d: %s", warning["index"], warning["message"])
        doc: dict[str, Any] = {"accepted": len(events), "stored": logged.stored, "seqs": logged.seqs,
                               "repeated": logged.repeated}  # fmt: skip
        if warnings:
            doc["warnings"] = warnings
        return HTTPStatus.OK, doc

    def _ids(self, events: Sequence[Event], key: str | None, signature: str | None) -> list[str | None]:
        """Each event's id: its own, else the Idempotency-Key of a single event, else (a
        signed request) one made of the signature — a replay of the same bytes is then
        a repeat."""
        ids: list[str | None] = [e.data.get("id") for e in events]
        if key is not None:
            key = key.strip()
            if not key or len(key) > MAX_ID or not key.isprintable():
                raise IntakeError(HTTPStatus.BAD_REQUEST, f"the {IDEMPOTENCY_HEADER} must be 1 to {MAX_ID} "
                                                          "printable characters")  # fmt: skip
            if len(events) != 1:
                raise IntakeError(HTTPStatus.BAD_REQUEST, f"the {IDEMPOTENCY_HEADER} names a single event: give each "
                                                          "event of a batch its own \"id\"")  # fmt: skip
            if ids[0] is not None and ids[0] != key:
                raise IntakeError(HTTPStatus.BAD_REQUEST, f'the {IDEMPOTENCY_HEADER} and the event\'s "id" differ')
            ids[0] = key
            events[0].data["id"] = key  # kept with the event, as if it came in the body
        if signature is not None:
            ids = [f"~{signature}/{i}" if name is None else name for i, name in enumerate(ids)]
        return ids

    def authenticate(self, headers: Headers, body: bytes) -> str | None:
        """Refuse (401) a request without a valid credential; the signature's hex digest
        when the request was signed (and so fresh: within ±SKEW seconds)."""
        config = self.config
        bearer = headers.get("Authorization")
        signature = headers.get(SIGNATURE_HEADER)
        if bearer is None and signature is None:
            raise IntakeError(HTTPStatus.UNAUTHORIZED, "credentials required: a bearer token or a signature")
        if bearer is not None:
            scheme, _, token = bearer.partition(" ")
            ok = bool(config.token) and scheme.lower() == "bearer"
            # compare_digest on bytes: constant time whatever the characters
            if not (ok and hmac.compare_digest(token.strip().encode("utf-8"), (config.token or "").encode("utf-8"))):
                raise IntakeError(HTTPStatus.UNAUTHORIZED, "the bearer token is wrong")
        if signature is None:
            return None
        stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        if not stamp:
            raise IntakeError(HTTPStatus.UNAUTHORIZED, f"a signed request needs {TIMESTAMP_HEADER} (Unix seconds), "
                                                       "signed with the body")  # fmt: skip
        if not re.fullmatch(r"\d{1,12}", stamp):
            raise IntakeError(HTTPStatus.UNAUTHORIZED, f"the {TIMESTAMP_HEADER} must be Unix seconds")
        given = signature.strip().lower()
        expected = sign(body, config.secret, stamp) if config.secret else ""
        if not (expected and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))):
            raise IntakeError(HTTPStatus.UNAUTHORIZED, f"the {SIGNATURE_HEADER} does not match the body and timestamp")
        off = int(stamp) - self.now()
        if abs(off) > SKEW:
            raise IntakeError(HTTPStatus.UNAUTHORIZED, f"the {TIMESTAMP_HEADER} is {round(off)} s off the intake's "
                                                       f"clock (±{SKEW} s allowed): sign the request again")  # fmt: skip
        return given.removeprefix("sha256=")


_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    """A log line without query strings (a token or a signature may be in one)."""
    return _QUERY.sub("?…", text)


_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            b"Connection: close\r\nContent-Length: 34\r\n\r\n{\"error\": \"too many connections\"}\n")  # fmt: skip


class IntakeServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds up shutdown

    def __init__(self, store: Store, config: IntakeConfig, clock: LocalTime | None = None,
                 routes: Mapping[str, CallbackRoute] | None = None, now: Callable[[], float] = time.time,
                 starting: bool = False) -> None:  # fmt: skip
        """`starting`: the daemon is still starting (migrating, taking the lease, loading —
        or waiting out a store outage meanwhile): every request is answered 503 with
        Retry-After and nothing is read from or written to the store until `ready()`."""
        self.store = store
        self.config = config
        self.routes = dict(routes or {})  # an adapter's callback routes (path → handler)
        self._now = now
        self.live = threading.Event()
        if starting:
            self.clock = clock or LocalTime(config.timezone or "UTC")  # replaced by ready()
        else:
            self.clock = clock or LocalTime(config.timezone or store_timezone(store))
            self.live.set()
        self.endpoint = EventsEndpoint(store, config, self.clock, now)
        self.request_queue_size = config.backlog  # listen() backlog, used by server_activate
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._per_client: Counter[str] = Counter()
        self._open = 0
        self._waiting: dict[socket.socket, float] = {}  # connections waiting for (the rest of) a request: since when
        self._refused: Counter[str] = Counter()  # refusals since the last log line
        self._refused_logged = 0.0
        self._closed = threading.Event()
        super().__init__((config.host, config.port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def open_connections(self) -> int:
        return self._open

    def start(self) -> None:
        """Serve in a background thread, with the reaper of slow connections in another."""
        self._thread = threading.Thread(target=self.serve_forever, name="playbook-intake", daemon=True)
        self._thread.start()
        threading.Thread(target=self._reap, name="playbook-intake-reaper", daemon=True).start()
        log.info("event intake listening on %s", self.url)

    def ready(self, clock: LocalTime, routes: Mapping[str, CallbackRoute] | None = None) -> None:
        """The daemon has started: events are taken from now on, read in `clock`'s timezone."""
        self.clock = clock
        self.endpoint = EventsEndpoint(self.store, self.config, clock, self._now)
        self.routes = dict(routes or {})
        self.live.set()
        log.info("event intake taking events on %s", self.url)

    def stop(self) -> None:
        self._closed.set()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    # ---- connections: per client, in all, and deadlines --------------------------------------------
    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Admit a connection unless its client has `max_per_client` open; at
        `max_connections`, make room by dropping the connection that has waited longest
        for its request (a slow or idle one), or refuse when every one is working."""
        client = str(client_address[0])
        config = self.config
        victim: socket.socket | None = None
        with self._lock:
            if self._per_client[client] >= config.max_per_client:
                refused = "per client"
            elif self._open >= config.max_connections and not self._waiting:
                refused = "in all"
            else:
                refused = ""
                if self._open >= config.max_connections:
                    victim = min(self._waiting, key=self._waiting.__getitem__)
                    del self._waiting[victim]
                self._per_client[client] += 1
                self._open += 1
                self._waiting[request] = time.monotonic()
        if victim is not None:
            _drop(victim)
        if refused:
            self._note_refusal(f"{client} ({refused})")
            try:
                request.setblocking(False)
                request.send(_REFUSED)
            except OSError:
                pass
            return False
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._open -= 1
                client = str(client_address[0])
                self._per_client[client] -= 1
                if self._per_client[client] <= 0:
                    del self._per_client[client]
                self._waiting.pop(request, None)

    def waiting(self, connection: socket.socket) -> None:
        """The connection waits for a request: it has `read_timeout` seconds to deliver it."""
        with self._lock:
            self._waiting[connection] = time.monotonic()

    def working(self, connection: socket.socket) -> None:
        """The request is in: no deadline while it is handled."""
        with self._lock:
            self._waiting.pop(connection, None)

    def _reap(self) -> None:
        timeout = self.config.read_timeout
        while not self._closed.wait(min(0.25, timeout / 4)):
            limit = time.monotonic() - timeout
            with self._lock:
                late = [c for c, since in self._waiting.items() if since < limit]
                for c in late:
                    del self._waiting[c]
            for c in late:
                _drop(c)

    def _note_refusal(self, who: str) -> None:
        """Refusals are logged at most once a minute, counted (a flood must not flood the log)."""
        self._refused[who] += 1
        now = time.monotonic()
        if now - self._refused_logged >= 60:
            self._refused_logged = now
            counts = ", ".join(f"{n} from {w}" for w, n in self._refused.most_common(5))
            log.warning("event intake: connections refused (too many open): %s", counts)
            self._refused.clear()


def _drop(connection: socket.socket) -> None:
    """End a connection from another thread: its handler's read returns at once."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    server: IntakeServer
    protocol_version = "HTTP/1.1"
    server_version = "playbook-intake"

    def setup(self) -> None:
        self.timeout = self.server.config.read_timeout  # each read, too (the reaper bounds the whole request)
        super().setup()

    def handle_one_request(self) -> None:
        self.server.waiting(self.connection)
        super().handle_one_request()

    def _starting(self, body_read: bool) -> bool:
        """While the daemon starts: 503 with Retry-After, nothing stored (True: answered)."""
        if self.server.live.is_set():
            return False
        self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the daemon is starting (or waiting for its store); "
                    "retry later"}, close=not body_read, headers={"Retry-After": str(RETRY_AFTER)})  # fmt: skip
        return True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.working(self.connection)
        if self._starting(True):
            return
        path = self.path.split("?")[0]
        if path in self.server.routes:
            self._callback(path, b"")
        elif path == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self._starting(False):  # the body is left unread: the connection closes
            return
        path = self.path.split("?")[0]
        if path in self.server.routes:
            try:
                body = self._body()
            except IntakeError as exc:
                self._reply(exc.status, exc.body, close=True)
                return
            self._callback(path, body)
            return
        if path != "/events" or not self.server.config.events:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"}, close=True)
            return
        body: bytes | None = None
        try:
            body = self._body()
            status, doc = self.server.endpoint.handle(self.headers, body)
        except IntakeError as exc:
            self._reply(exc.status, exc.body, close=body is None, headers=exc.headers)  # an unread body: close
            return
        self._reply(status, doc)

    def _store_down(self, exc: StoreError) -> None:
        self.server.endpoint.outage(exc)  # one outage, whichever route met it

    def _callback(self, path: str, body: bytes) -> None:
        """An adapter's callback route: it authenticates the caller and stores the events."""
        from urllib.parse import parse_qsl, urlsplit

        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        request = HttpRequest(self.command, path, query, body, {k: v for k, v in self.headers.items()})
        try:
            response = self.server.routes[path](request)
        except StoreError as exc:
            self._store_down(exc)
            response = HttpResponse(HTTPStatus.SERVICE_UNAVAILABLE, b"the store is unavailable")
        except Exception:  # a bug in a route must not take the intake down
            log.exception("callback %s failed", path)
            response = HttpResponse(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error")
        self.send_response(response.status)
        if response.status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", str(RETRY_AFTER))
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise IntakeError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length (chunked bodies are not accepted)")
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise IntakeError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length")
        try:
            length = int(raw)
        except ValueError:
            raise IntakeError(HTTPStatus.BAD_REQUEST, "the Content-Length is not a number") from None
        if length < 0:
            raise IntakeError(HTTPStatus.BAD_REQUEST, "the Content-Length is negative")
        limit = self.server.config.max_body
        if length > limit:  # refused unread
            raise IntakeError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {limit} bytes")
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away, or the reaper ended a request too slow to arrive
            self.close_connection = True
            raise IntakeError(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
        self.server.working(self.connection)
        return body

    def _reply(self, status: HTTPStatus, doc: dict[str, Any], close: bool = False,
               headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="playbook"')
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client is gone (or was dropped): nothing to answer
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if isinstance(code, HTTPStatus):
            code = code.value
        # (a request line that could not be parsed has no command or path: its own words then)
        line = f"{self.command} {self.path}" if getattr(self, "path", None) else self.requestline
        self.log_message("%s %s", line, str(code))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        # the method, path and status only: never headers (they carry the credentials), and
        # no query string (a token or a signature may be in it)
        log.info("%s %s", self.address_string(), redact(format % args))
