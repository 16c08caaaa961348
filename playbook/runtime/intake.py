"""The event intake endpoint: `POST /events` with one event or a JSON array of them.

    server = IntakeServer(store, IntakeConfig(token=os.environ["PLAYBOOK_INTAKE_TOKEN"]))
    server.start()            # serves on 127.0.0.1:8787 in a background thread
    ...
    server.stop()

A request is authenticated by `Authorization: Bearer <token>` or by
`X-Playbook-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (both compared in
constant time); a presented credential that is wrong is refused even if another is right.
Its body is at most `max_body` bytes (413 otherwise). Each event is {"type", "contact",
"at", …data}: pydantic checks the envelope, then `data.files.event_from_record` — the one
validation `plan` uses too — types the fields. All events of a request are appended in one
transaction (source "http") and the answer lists their sequence numbers; a request with
any problem stores nothing. Errors are JSON: {"error": …} and, for invalid events (422),
"errors": [{"index", "field", "message"}]. `GET /health` answers 200 without credentials.

Why the standard library's ThreadingHTTPServer and not an ASGI stack: the endpoint is two
routes with small bodies whose cost is the store's write transaction, not HTTP parsing;
it needs no event loop next to the daemon's scheduler threads, and adds no dependency.
It is meant to sit on 127.0.0.1 (the default) behind a reverse proxy for TLS.

Secrets come from the caller (the environment or the config, see `IntakeConfig.from_env`)
and are never logged: the request log carries the method, path and status only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbook.adapters.base import CallbackRoute, HttpRequest, HttpResponse
from playbook.data.files import event_from_record
from playbook.data.values import DataValueError, parse_time, typed
from playbook.engine.model import Event
from playbook.engine.timeutil import LocalTime
from playbook.runtime.importing import store_timezone
from playbook.runtime.store import Store, StoreError

log = logging.getLogger("playbook.intake")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 1 << 20  # bytes (1 MiB)
TOKEN_ENV = "PLAYBOOK_INTAKE_TOKEN"
SECRET_ENV = "PLAYBOOK_INTAKE_SECRET"
SIGNATURE_HEADER = "X-Playbook-Signature"


@dataclass(frozen=True)
class IntakeConfig:
    token: str | None = None  # bearer token
    secret: str | None = None  # HMAC-SHA256 key
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port
    max_body: int = DEFAULT_MAX_BODY
    timezone: str | None = None  # of times without an offset (default: the active playbook's)

    events: bool = True  # False: only adapter callback routes are served (no token or secret configured)

    def __post_init__(self) -> None:
        if self.events and not self.token and not self.secret:
            raise ValueError(f"the intake endpoint needs a token or a secret (set {TOKEN_ENV} or {SECRET_ENV})")
        if self.max_body <= 0:
            raise ValueError("max_body must be positive")

    def __repr__(self) -> str:  # never show the secrets
        return f"IntakeConfig(host={self.host!r}, port={self.port}, max_body={self.max_body}, token=…, secret=…)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> IntakeConfig:
        env = os.environ if environ is None else environ
        return cls(token=env.get(TOKEN_ENV) or None, secret=env.get(SECRET_ENV) or None, **kwargs)


def sign(body: bytes, secret: str) -> str:
    """The X-Playbook-Signature value for a body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class EventEnvelope(BaseModel):
    """What every event must have; the other keys are its data (typed by event_from_record)."""

    # a numeric contact id is text, as in data files; type and at must be strings
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, str_strip_whitespace=True)
    type: str = Field(min_length=1, max_length=200, strict=True)
    contact: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")
    at: str = Field(min_length=1, max_length=100, strict=True)  # a time like 2026-12-01T09:00:00+08:00


class IntakeError(Exception):
    """A refused request: its HTTP status and JSON body."""

    def __init__(self, status: HTTPStatus, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": message}
        if errors is not None:
            self.body["errors"] = errors


def parse_events(body: bytes, clock: LocalTime) -> list[Event]:
    """The events of a request body (one object or an array), or IntakeError (400 / 422)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise IntakeError(HTTPStatus.BAD_REQUEST, "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise IntakeError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                                                  f"column {exc.colno}") from None  # fmt: skip
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
                field = ".".join(str(p) for p in e["loc"]) or None
                errors.append({"index": index, "field": field, "message": e["msg"]})
            continue
        record = {**item, "type": envelope.type, "contact": envelope.contact, "at": envelope.at}
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


class IntakeServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds up shutdown

    def __init__(self, store: Store, config: IntakeConfig, clock: LocalTime | None = None,
                 routes: Mapping[str, CallbackRoute] | None = None) -> None:  # fmt: skip
        self.store = store
        self.config = config
        self.routes = dict(routes or {})  # an adapter's callback routes (path → handler)
        self.clock = clock or LocalTime(config.timezone or store_timezone(store))
        self._thread: threading.Thread | None = None
        self.store_down = False  # the store refused the last write (logged once per outage)
        super().__init__((config.host, config.port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="playbook-intake", daemon=True)
        self._thread.start()
        log.info("event intake listening on %s", self.url)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


RETRY_AFTER = 5  # seconds a client is asked to wait when the store is unavailable (503)


class _Handler(BaseHTTPRequestHandler):
    server: IntakeServer
    protocol_version = "HTTP/1.1"
    server_version = "playbook-intake"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        if path in self.server.routes:
            self._callback(path, b"")
        elif path == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
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
            self._authenticate(body)
            events = parse_events(body, self.server.clock)
            seqs = self.server.store.append_events(events, "http")
        except IntakeError as exc:
            self._reply(exc.status, exc.body, close=body is None)  # an unread body: the connection cannot go on
            return
        except StoreError as exc:
            self._store_down(exc)
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the store is unavailable; retry later"})
            return
        self.server.store_down = False
        self._reply(HTTPStatus.OK, {"accepted": len(seqs), "seqs": seqs})

    def _store_down(self, exc: StoreError) -> None:
        """Logged once per outage (the daemon says what to do); every request meanwhile
        gets 503 with Retry-After and nothing of it is stored."""
        if self.server.store_down:
            log.debug("event intake: the store refused: %s", exc)
        else:
            self.server.store_down = True
            log.error("event intake: the store refused, answering 503 until it is back: %s", exc)

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
        return self.rfile.read(length)

    def _authenticate(self, body: bytes) -> None:
        config = self.server.config
        bearer = self.headers.get("Authorization")
        signature = self.headers.get(SIGNATURE_HEADER)
        if bearer is None and signature is None:
            raise IntakeError(HTTPStatus.UNAUTHORIZED, "credentials required: a bearer token or a signature")
        if bearer is not None:
            scheme, _, token = bearer.partition(" ")
            ok = bool(config.token) and scheme.lower() == "bearer"
            # compare_digest on bytes: constant time whatever the characters
            if not (ok and hmac.compare_digest(token.strip().encode("utf-8"), (config.token or "").encode("utf-8"))):
                raise IntakeError(HTTPStatus.UNAUTHORIZED, "the bearer token is wrong")
        if signature is not None:
            expected = sign(body, config.secret) if config.secret else ""
            given = signature.strip().lower().encode("utf-8")
            if not (expected and hmac.compare_digest(given, expected.encode("utf-8"))):
                raise IntakeError(HTTPStatus.UNAUTHORIZED, f"the {SIGNATURE_HEADER} does not match the body")

    def _reply(self, status: HTTPStatus, doc: dict[str, Any], close: bool = False) -> None:
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="playbook"')
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", str(RETRY_AFTER))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        # the request line and status only: never headers (they carry the credentials)
        log.info("%s %s", self.address_string(), format % args)
