"""The daemon's two halves (Decider + Dispatcher) sending through the real webhook adapter
to a receiver on 127.0.0.1 that fails about one request in five: 500 without taking
anything, a timeout after taking the touches, a connection reset (RST) before or after
taking them. The receiver deduplicates by each touch's `key`, as a receiver honouring
Idempotency-Key does, and records every request.

What must hold: every ledger row ends terminal (sent, or dead where the receiver refused
with a 400); the receiver took each key exactly once and the keys it took are the ledger's
`sent` ones; a key is never sent again after a request carrying it was answered 2xx
(duplicates only where the client could not know: a timeout or a reset); and the faults
really happened.

max_attempts is 12: with at most a 20% chance per request to fail, a key dies by bad luck
with probability 0.2**12 ≈ 4e-9 — and the faults are drawn from a seeded rng per
(Idempotency-Key, how many times the receiver has seen it), so a run is the same every time
whatever the thread interleaving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from playbook.adapters.webhook import SIGNATURE_HEADER, WebhookAdapter
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher, RetryPolicy
from playbook.runtime.store import Store
from playbook.vocab.model import Event
from tests.runtime.test_crash import PLAYBOOK  # journey 欢迎: on friend_added, dm 欢迎语 (s1), task (s2)

CONTACTS = 150  # a dm and a task each: 300 touches
START = 1_796_086_800  # 2026-12-01T10:00:00+08:00: outside any quiet hours
TIMEOUT = 0.3  # the adapter's, in seconds
HANG = 0.8  # the receiver's sleep on a "timeout" request: well past TIMEOUT
SECRET = "webhook-faults-secret"
MAX_ATTEMPTS = 12
SEED = 20261201
# How a request is answered, drawn per request: cumulative thresholds.
FAULTS = (("500", 0.08), ("timeout", 0.14), ("reset_before", 0.17), ("reset_after", 0.20))


def fault_for(idempotency_key: str, seen: int) -> str:
    """The fault for the `seen`-th request (0-based) with this Idempotency-Key, or "ok"."""
    draw = random.Random(f"{SEED}:{idempotency_key}:{seen}").random()
    return next((name for name, upto in FAULTS if draw < upto), "ok")


@dataclass
class Request:
    keys: list[str]
    fault: str  # ok | 500 | timeout | reset_before | reset_after | refused
    arrived: int  # tick (one counter for arrivals and acknowledgements)
    processed: bool = False  # the receiver took its touches (new ones recorded, known ones skipped)
    acked: int | None = None  # tick at which a 2xx was written to a client still waiting for it


@dataclass
class Receiver:
    refuse: frozenset[str] = frozenset()  # keys answered 400 (permanent)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Request] = field(default_factory=list)
    taken: Counter[str] = field(default_factory=Counter)  # key → times the receiver acted on it (dedup: ≤ 1)
    seen: Counter[str] = field(default_factory=Counter)  # Idempotency-Key → requests so far
    tick: int = 0
    bad_signatures: int = 0

    def next_tick(self) -> int:
        self.tick += 1
        return self.tick


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers["Content-Length"]))
        keys = [touch["key"] for touch in json.loads(body)["touches"]]
        idem = self.headers["Idempotency-Key"]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        with receiver.lock:
            if not hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected):
                receiver.bad_signatures += 1
            if len(keys) == 1:
                assert unquote(idem) == keys[0]
            fault = "refused" if receiver.refuse & set(keys) else fault_for(idem, receiver.seen[idem])
            receiver.seen[idem] += 1
            request = Request(keys, fault, receiver.next_tick())
            receiver.requests.append(request)
            if fault in ("ok", "timeout", "reset_after"):
                request.processed = True
                for key in keys:
                    if not receiver.taken[key]:  # deduplicated by key: a repeat is acknowledged, not redone
                        receiver.taken[key] += 1
        if fault in ("reset_before", "reset_after"):
            # SO_LINGER 0 and close: the kernel answers with an RST, not a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "500":
            self._answer(500, b'{"error":"internal"}')
            return
        if fault == "refused":
            self._answer(400, b'{"error":"unknown recipient"}')
            return
        if fault == "timeout":
            time.sleep(HANG)  # the client has given up by now: whatever we answer, it never sees it
            self._answer(200, b"{}")
            return
        self._answer(200, b"{}")
        with receiver.lock:
            request.acked = receiver.next_tick()

    def _answer(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away (it timed out)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping out a timeout must not hold the test up

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.receiver = receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the resets break connections on purpose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/touches"


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(receiver: Receiver) -> Server:
        server = Server(receiver)
        threading.Thread(target=server.serve_forever, name="faulty-receiver", daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(tmp: Path, url: str, batch_size: int) -> Store:
    """Decide the touches of CONTACTS friend_added events, then dispatch until nothing is
    due any more, on a clock that jumps to the next retry (the adapter's timeouts are real)."""
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.migrate()
    store.append_events([Event("friend_added", f"c{i:03}", START, {"account": f"a{i % 3}", "name": f"客户{i}"})
                         for i in range(CONTACTS)], "cli")  # fmt: skip
    decider = Decider(store, [str(tmp / "p.pb")])
    decider.load(START)
    decider.step(START)
    adapter = WebhookAdapter({"url": url, "timeout": TIMEOUT, "batch_size": batch_size}, {"secret": SECRET})
    adapter.open()
    now = START
    dispatcher = Dispatcher(store, adapter, owner="faults", workers=8, batch=100, clock=lambda: now,
                            retry=RetryPolicy(max_attempts=MAX_ATTEMPTS, backoff=0.05, backoff_cap=2.0),
                            rng=random.Random(SEED))  # fmt: skip
    try:
        for _ in range(10_000):
            if dispatcher.run_once(now).claimed:
                continue
            waiting = store.touches(states=("pending", "failed"))
            if not waiting:
                break
            now = max(now + 1, min(r.next_attempt_at or now for r in waiting))  # fast-forward to the next retry
    finally:
        dispatcher.close()
        adapter.close()
    return store


def check(store: Store, receiver: Receiver) -> dict[str, Any]:
    ledger = {r.key: r for r in store.touches()}
    assert len(ledger) == 2 * CONTACTS
    sent = {k for k, r in ledger.items() if r.state == "sent"}
    dead = {k for k, r in ledger.items() if r.state == "dead"}
    assert sent | dead == set(ledger)  # every row terminal

    # the receiver took each key exactly once, and exactly the ones the ledger says went out
    assert set(receiver.taken) == sent
    assert all(n == 1 for n in receiver.taken.values())
    assert receiver.bad_signatures == 0
    # every sent row's last request was answered 2xx (a "sent" never rests on a guess)
    acked = {k for q in receiver.requests if q.acked is not None for k in q.keys}
    assert acked == sent

    # never twice: once a request carrying a key was acknowledged, no later request carries it
    first_ack: dict[str, int] = {}
    for q in receiver.requests:
        if q.acked is not None:
            for k in q.keys:
                first_ack[k] = min(first_ack.get(k, q.acked), q.acked)
    for q in receiver.requests:
        for k in q.keys:
            assert k not in first_ack or q.arrived < first_ack[k], f"{k} sent again after a 2xx"

    # and the faults happened: duplicates were only ever the client not knowing
    faults = Counter(q.fault for q in receiver.requests)
    assert faults["500"] > 0 and faults["timeout"] > 0
    assert faults["reset_before"] > 0 and faults["reset_after"] > 0
    repeats = Counter(k for q in receiver.requests if q.processed for k in q.keys)
    assert any(n > 1 for n in repeats.values())  # the receiver's deduplication was needed
    attempts = Counter(r.attempts for r in ledger.values())
    assert max(attempts) < MAX_ATTEMPTS and max(attempts) > 1
    return {"sent": sent, "dead": dead, "ledger": ledger, "faults": faults}


@pytest.mark.parametrize("batch_size", [1, 4], ids=["one-per-request", "batches"])
def test_every_touch_ends_sent_once_through_a_faulty_receiver(tmp_path: Path, serve: Any, batch_size: int) -> None:
    receiver = Receiver()
    server = serve(receiver)
    began = time.monotonic()
    store = run(tmp_path, server.url, batch_size)
    result = check(store, receiver)
    assert result["dead"] == set()
    assert len(result["sent"]) == 2 * CONTACTS
    if batch_size > 1:
        assert any(len(q.keys) > 1 for q in receiver.requests)
    assert time.monotonic() - began < 20
    store.close()


def test_a_refused_touch_dies_with_the_reason(tmp_path: Path, serve: Any) -> None:
    receiver = Receiver()
    server = serve(receiver)
    # the dm of contact c007, refused for good: it must end dead, with the receiver's reason
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    from playbook.compiler import compile_path

    version = compile_path(str(tmp_path / "p.pb")).doc["version"]
    poison = f"{version}/欢迎/c007/s1/1"
    receiver.refuse = frozenset({poison})
    store = run(tmp_path, server.url, 1)
    result = check(store, receiver)
    assert result["dead"] == {poison}
    row = result["ledger"][poison]
    assert "400" in (row.error or "") and "unknown recipient" in (row.error or "")
    assert row.attempts == 1  # permanent: not retried
    assert [q.fault for q in receiver.requests if poison in q.keys] == ["refused"]
    assert poison not in receiver.taken
    store.close()
