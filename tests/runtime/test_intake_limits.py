"""The intake's limits (issue 19, item 5), against a real server on an ephemeral port:
slow connections (1 byte a second) by the thousand while a real client posts events,
deep JSON nesting, and no secret from a query string in the log."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from playbook.runtime.intake import IntakeConfig, IntakeServer
from playbook.runtime.store import Store

TOKEN = "tok-limits"
BEARER = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def event(n: int) -> dict[str, Any]:
    return {"type": "message", "contact": f"c{n}", "at": "2026-12-01T09:00:00+08:00", "id": f"m-{n}"}


def start(store: Store, **limits: Any) -> IntakeServer:
    srv = IntakeServer(store, IntakeConfig(token=TOKEN, port=0, timezone="Asia/Shanghai", **limits))
    srv.start()
    return srv


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        store.migrate()
        yield store


def post(srv: IntakeServer, body: bytes, path: str = "/events", timeout: float = 5) -> tuple[int, dict[str, Any]]:
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=BEARER)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class SlowClients:
    """`count` connections from the given source addresses, each sending a request one
    byte a second (a slowloris), until stopped. Connections the server ends are counted."""

    REQUEST = b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"[" * 1000

    def __init__(self, srv: IntakeServer, count: int, sources: list[str]) -> None:
        self.address = srv.server_address[:2]
        self.count = count
        self.sources = sources
        self.sockets: list[tuple[socket.socket, int]] = []
        self.connected = threading.Event()
        self.ended = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        host, port = self.address
        for i in range(self.count):  # as fast as they can: the real client comes in among them
            source = (self.sources[i % len(self.sources)], 0)
            s = socket.create_connection((str(host), int(port)), timeout=5, source_address=source)
            s.setblocking(False)
            self.sockets.append((s, 0))
        self.connected.set()
        while not self._stop.wait(1.0):
            alive = []
            for s, sent in self.sockets:
                try:
                    s.send(self.REQUEST[sent : sent + 1])
                    alive.append((s, sent + 1))
                except OSError:  # the server ended it (refused, dropped or timed out)
                    s.close()
                    self.ended += 1
            self.sockets = alive

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for s, _ in self.sockets:
            s.close()


def timed_posts(srv: IntakeServer, n: int, first: int = 0) -> list[float]:
    """Post n events one by one, a fifth of a second apart; how long each answer took."""
    took = []
    for i in range(first, first + n):
        began = time.monotonic()
        status, doc = post(srv, json.dumps(event(i)).encode("utf-8"))
        took.append(time.monotonic() - began)
        assert status == 200 and doc["stored"] == 1, doc
        time.sleep(0.2)
    return took


@pytest.mark.parametrize("sources", [1, 100], ids=["one-address", "100-addresses"])
def test_a_thousand_slow_connections_do_not_starve_a_real_client(sqlite_store: Store, sources: int) -> None:
    # one address: the per-client bound refuses all but 32 at once; 100 addresses (10 each,
    # under that bound): the total bound (512) makes room by dropping the longest waiting
    srv = start(sqlite_store)
    addresses = ["127.0.0.2"] if sources == 1 else [f"127.0.1.{i}" for i in range(1, sources + 1)]
    slow = SlowClients(srv, 1000, addresses)
    try:
        during = timed_posts(srv, 5)  # while the thousand connect (a listen backlog of 5 took minutes here)
        assert slow.connected.wait(30)
        time.sleep(1.5)  # all in, and trickling
        took = timed_posts(srv, 5, first=5)
        assert max(took) < 1.0, took  # the figure, with the thousand in place
        # while 1,000 threads' worth of connections are being accepted and dropped on a
        # shared 2-core machine, a scheduling hiccup of a second was seen once in ~20 runs
        assert max(during) < 2.0, during
        assert srv.open_connections <= (32 if sources == 1 else 512) + 1  # a thread each: bounded
        assert slow.ended >= 1000 - 512 - 1
    finally:
        slow.stop()
        srv.stop()
    assert sum(sqlite_store.event_counts().values()) == 10


def test_a_slow_request_is_dropped_after_the_read_timeout(sqlite_store: Store) -> None:
    # a byte a second never trips a per-read timeout of 2.5 s: the deadline for the whole request does
    srv = start(sqlite_store, read_timeout=2.5)
    slow = SlowClients(srv, 5, ["127.0.0.3"])  # within every bound: only the deadline ends them
    try:
        began = time.monotonic()
        while slow.ended < 5 and time.monotonic() < began + 8:
            time.sleep(0.1)
        assert slow.ended == 5 and time.monotonic() - began < 5  # dropped at 2.5 s, noticed at the next byte
        assert timed_posts(srv, 1)[0] < 1.0
    finally:
        slow.stop()
        srv.stop()


def test_too_many_connections_from_one_client_are_answered_503(sqlite_store: Store) -> None:
    srv = start(sqlite_store, max_per_client=2)
    host, port = srv.server_address[:2]
    held = [socket.create_connection((str(host), int(port)), source_address=("127.0.0.4", 0)) for _ in range(2)]
    try:
        time.sleep(0.2)
        extra = socket.create_connection((str(host), int(port)), timeout=5, source_address=("127.0.0.4", 0))
        answer = extra.recv(1000)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 1" in answer
        extra.close()
        assert post(srv, json.dumps(event(1)).encode("utf-8"))[0] == 200  # another client is not concerned
    finally:
        for s in held:
            s.close()
        srv.stop()


def test_a_hundred_thousand_nested_arrays_are_a_400_at_once(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = start(sqlite_store, max_body=1 << 20)
    try:
        for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
            began = time.monotonic()
            status, doc = post(srv, body)
            assert time.monotonic() - began < 1.0
            assert status == 400 and doc["error"] == "the body nests JSON deeper than 16 levels"
        deep = json.dumps([{**event(1), "x": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}]).encode("utf-8")  # 18 levels
        assert post(srv, deep)[0] == 400
        assert post(srv, json.dumps([event(1)]).encode("utf-8"))[0] == 200  # 2 levels: fine
    finally:
        srv.stop()
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
    assert sum(sqlite_store.event_counts().values()) == 1


def test_a_token_in_the_query_string_is_not_logged(sqlite_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "qs-secret-4711"
    srv = start(sqlite_store)
    try:
        status, _ = post(srv, json.dumps(event(1)).encode("utf-8"), path=f"/events?token={secret}")
        assert status == 200
        host, port = srv.server_address[:2]
        with socket.create_connection((str(host), int(port)), timeout=5) as s:  # a malformed request line
            s.sendall(f"GET /events?token={secret} HTTP/1.1 junk\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(1000):
                answer += chunk
            assert b"400" in answer  # (http.server answers a request line it cannot read as HTTP/0.9: no head)
        conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
        conn.request("GET", f"/health?access_token={secret}")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        srv.stop()
    assert "POST /events?… 200" in caplog.text and "/health?…" in caplog.text
    assert secret not in caplog.text and TOKEN not in caplog.text


def test_a_store_that_cannot_be_reached_is_a_503_with_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    # a real store whose database does not answer (nothing listens on port 1): nothing stored, retry later
    store = Store("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    srv = start(store)
    try:
        host, port = srv.server_address[:2]
        conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
        conn.request("POST", "/events", body=json.dumps(event(1)).encode("utf-8"), headers=BEARER)
        response = conn.getresponse()
        assert response.status == 503 and response.getheader("Retry-After") == "5"
        assert json.loads(response.read()) == {"error": "the store is unavailable; retry later"}
        conn.close()
    finally:
        srv.stop()
        store.close()
    assert "the store refused" in caplog.text and TOKEN not in caplog.text


def test_the_limits_come_from_playbook_toml(tmp_path: Any) -> None:
    from playbook.diagnostics import PlaybookError
    from playbook.runtime.config import intake_settings, load_config

    path = tmp_path / "playbook.toml"
    path.write_text('[intake]\nread_timeout = "30s"\nmax_per_client = 64\nmax_connections = 128\nbacklog = 256\n'
                    'max_depth = 8\nremember_ids = "7d"\n', encoding="utf-8")  # fmt: skip
    config = load_config(path, {})
    settings = intake_settings(config, {"PLAYBOOK_INTAKE_TOKEN": "t"})
    assert settings is not None
    assert (settings.read_timeout, settings.max_per_client, settings.max_connections, settings.backlog,
            settings.max_depth) == (30.0, 64, 128, 256, 8)  # fmt: skip
    assert config.intake.remember_ids == 7 * 86400
    defaults = intake_settings(load_config(None, {}), {"PLAYBOOK_INTAKE_TOKEN": "t"})
    assert defaults is not None and (defaults.read_timeout, defaults.max_per_client, defaults.max_connections,
                                     defaults.backlog, defaults.max_depth) == (10.0, 32, 512, 1024, 16)  # fmt: skip
    path.write_text("[intake]\nmax_per_client = 0\n", encoding="utf-8")
    with pytest.raises(PlaybookError, match="max_per_client"):
        load_config(path, {})
