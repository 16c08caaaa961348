"""Event intake: the HTTP endpoint on 127.0.0.1 (a real server, an ephemeral port) and
`playbook event` through the real entry point. Every refused request stores nothing."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from playbook.runtime.intake import SIGNATURE_HEADER, TIMESTAMP_HEADER, IntakeConfig, IntakeServer, sign
from playbook.runtime.store import Store

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-ünï"
SECRET = "test-secret"
MAX_BODY = 4096
AT = "2026-12-01T09:00:00+08:00"


@pytest.fixture
def server(store: Store) -> Iterator[IntakeServer]:
    config = IntakeConfig(token=TOKEN, secret=SECRET, port=0, max_body=MAX_BODY, timezone="Asia/Shanghai")
    srv = IntakeServer(store, config)
    srv.start()
    yield srv
    srv.stop()


def post(server: IntakeServer, body: Any, headers: dict[str, str] | None = None,
         path: str = "/events") -> tuple[int, dict[str, Any]]:  # fmt: skip
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request("POST", path, body=raw, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(store: Store) -> int:
    return sum(store.event_counts().values())


def event(**fields: Any) -> dict[str, Any]:
    return {"type": "purchase", "contact": "c1", "at": AT, "amount": 99.5, **fields}


def test_the_server_binds_to_localhost_by_default() -> None:
    assert IntakeConfig(token="x").host == "127.0.0.1"
    with pytest.raises(ValueError, match="token or a secret"):
        IntakeConfig()
    shown = repr(IntakeConfig(token="tok-123", secret="sec-456"))
    assert "tok-123" not in shown and "sec-456" not in shown  # secrets stay out of reprs and logs


def test_health(server: IntakeServer) -> None:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.request("GET", "/health")
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    conn.close()


def test_one_event(server: IntakeServer, store: Store) -> None:
    status, doc = post(server, event(sku="A1", paid="true"), bearer())
    assert status == 200, doc
    assert doc["accepted"] == 1 and len(doc["seqs"]) == 1
    (stored_event,) = store.next_events()
    assert stored_event.seq == doc["seqs"][0]
    assert (stored_event.type, stored_event.contact, stored_event.at) == ("purchase", "c1", 1796086800)
    assert stored_event.data == {"amount": 99.5, "sku": "A1", "paid": True}  # typed like data files


def test_a_batch_is_stored_in_order(server: IntakeServer, store: Store) -> None:
    batch = [event(contact=f"c{i}", amount=i) for i in range(5)] + [{"type": "reply", "contact": 42, "at": AT}]
    status, doc = post(server, batch, bearer())
    assert status == 200, doc
    assert doc["accepted"] == 6 and doc["seqs"] == sorted(doc["seqs"])
    events = store.next_events()
    assert [e.seq for e in events] == doc["seqs"]
    assert [e.contact for e in events] == ["c0", "c1", "c2", "c3", "c4", "42"]
    assert [e.data.get("amount") for e in events] == [0, 1, 2, 3, 4, None]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), {"Authorization": "Basic " + TOKEN}, bearer(""), {SIGNATURE_HEADER: "sha256=00"}],
    ids=["missing", "bad-token", "not-bearer", "empty-token", "bad-hmac"],
)
def test_refused_credentials(server: IntakeServer, store: Store, headers: dict[str, str],
                             caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="playbook.intake")
    status, doc = post(server, event(), headers)
    assert status == 401 and doc["error"]
    assert stored(store) == 0
    assert "POST /events" in caplog.text and TOKEN not in caplog.text and SECRET not in caplog.text


def test_a_contact_id_the_store_cannot_hold(server: IntakeServer, store: Store) -> None:
    status, doc = post(server, event(contact="c\x001"), bearer())
    assert status == 422 and doc["errors"][0]["field"] == "contact"
    assert stored(store) == 0


def test_hmac_signature(server: IntakeServer, store: Store) -> None:
    body = json.dumps([event(), event(contact="c2")]).encode("utf-8")
    now = int(time.time())
    stamp = {TIMESTAMP_HEADER: str(now)}
    status, doc = post(server, body, {SIGNATURE_HEADER: sign(body, SECRET, now), **stamp})
    assert status == 200, doc
    assert stored(store) == 2
    # signed with another secret, over another body or another timestamp: refused
    for signature in (sign(body, "other", now), sign(body + b" ", SECRET, now), sign(body, SECRET, now + 1)):
        status, _ = post(server, body, {SIGNATURE_HEADER: signature, **stamp})
        assert status == 401
    # a right token does not excuse a wrong signature
    status, _ = post(server, body, {SIGNATURE_HEADER: sign(body, "other", now), **stamp, **bearer()})
    assert status == 401
    assert stored(store) == 2


def test_oversized_body(server: IntakeServer, store: Store) -> None:
    batch = [event(contact=f"c{i}", note="x" * 100) for i in range(40)]
    body = json.dumps(batch).encode("utf-8")
    assert len(body) > MAX_BODY
    status, doc = post(server, body, bearer())
    assert status == 413 and str(MAX_BODY) in doc["error"]
    assert stored(store) == 0


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\xff\xfe", b"[]"], ids=["syntax", "empty", "not-utf8", "empty-batch"]
)
def test_malformed_body(server: IntakeServer, store: Store, body: bytes) -> None:
    status, doc = post(server, body, bearer())
    assert status == 400 and doc["error"]
    assert stored(store) == 0


@pytest.mark.parametrize(
    ("bad", "field", "says"),
    [
        ({"type": "purchase", "at": AT}, "contact", "required"),
        (event(contact="  "), "contact", "at least 1"),
        (event(at="2026-13-01T09:00:00"), "at", "not a date on the calendar"),
        (event(at="tomorrow"), "at", "not a date or time"),
        (event(at=1796086800), "at", "string"),
        (event(amount="ninety"), "amount", "must be a number"),
        (event(sku={"nested": 1}), "sku", "unsupported kind"),
        ({"type": "tag_added", "contact": "c1", "at": AT}, "tag", "needs a 'tag'"),
        ("just text", None, "JSON object"),
    ],
    ids=["no-contact", "blank-contact", "bad-date", "not-a-time", "at-number", "amount", "nested", "no-tag", "not-obj"],
)
def test_malformed_event_names_the_field(server: IntakeServer, store: Store, bad: Any, field: str | None,
                                         says: str) -> None:  # fmt: skip
    # alone, and inside a batch of good events: either way nothing is stored
    for body, index in ((bad, 0), ([event(), event(contact="c2"), bad], 2)):
        status, doc = post(server, body, bearer())
        assert status == 422, doc
        (error,) = doc["errors"]
        assert error["index"] == index and error["field"] == field and says in error["message"], error
        assert stored(store) == 0


def test_every_bad_event_of_a_batch_is_reported(server: IntakeServer, store: Store) -> None:
    status, doc = post(server, [event(amount="x"), event(), {"type": "reply", "at": AT}], bearer())
    assert status == 422
    assert [(e["index"], e["field"]) for e in doc["errors"]] == [(0, "amount"), (2, "contact")]
    assert stored(store) == 0


def test_unknown_paths(server: IntakeServer, store: Store) -> None:
    status, _ = post(server, event(), bearer(), path="/other")
    assert status == 404 and stored(store) == 0


# ---- playbook event -----------------------------------------------------------------------------


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_DB"} | {"PLAYBOOK_LANG": "en"}
    return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)  # fmt: skip


def test_playbook_event(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    out = run("event", "purchase", "--contact", "c1", "amount=3000", "sku=0571", "gift=true", "on=2026-12-01",
              "note=hello world", "--at", AT, "--db", db, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "event 1 stored: purchase for contact c1" in out.stdout
    out = run("event", "reply", "--contact", "c2", "--db", db, "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["seq"] == 2
    with Store(db) as store:
        first, second = store.next_events()
    assert (first.type, first.contact, first.at) == ("purchase", "c1", 1796086800)
    assert first.data == {"amount": 3000, "sku": "0571", "gift": True, "on": 1796054400, "note": "hello world"}
    assert (second.type, second.contact, second.data) == ("reply", "c2", {})  # at: now


def test_playbook_event_refuses_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "events.db")
    cases = [
        (["purchase", "--contact", "c1", "amount=abc"], "a purchase's amount must be a number"),
        (["purchase", "--contact", "c1", "--at", "soon"], "'soon' is not a date or time"),
        (["purchase", "--contact", "c1", "amount"], "'amount' is not KEY=VALUE"),
        (["purchase", "--contact", "c1", "at=2026-12-01"], "'at' is set by its own option"),
        (["purchase", "--contact", " "], "the event has no 'contact'"),
        (["purchase", "--contact", "c1", "--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
    ]
    for args, says in cases:
        out = run("event", *args, "--db", db, cwd=tmp_path)
        assert out.returncode == 1 and says in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    out = run("event", "purchase", "--contact", "c1", "--db", str(tmp_path / "no" / "dir" / "x.db"), cwd=tmp_path)
    assert out.returncode == 1 and "cannot use the store" in out.stderr and "Traceback" not in out.stderr
    with Store(db) as store:
        assert store.event_counts() == {}


def test_adapter_callback_routes_are_served_beside_events(store: Store) -> None:
    """A platform's callbacks (WeCom) reach the adapter's route with the query and body;
    the route authenticates its caller itself, and with `events=False` POST /events is off."""
    from playbook.adapters.base import HttpRequest, HttpResponse
    from playbook.vocab.model import Event

    seen: list[HttpRequest] = []

    def route(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        if request.method == "POST":
            store.append_events([Event("deleted", "c1", 1_796_000_000)], "adapter")
        return HttpResponse(200, b"echo:" + request.query.get("echostr", "").encode())

    srv = IntakeServer(store, IntakeConfig(port=0, events=False), routes={"/wecom/callback": route})
    srv.start()
    try:
        host, port = srv.server_address[:2]
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/wecom/callback?msg_signature=s&echostr=abc%3D")
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, b"echo:abc=")
        conn.request("POST", "/wecom/callback?msg_signature=s", body=b"<xml/>", headers={"Content-Length": "6"})
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, b"echo:")
        assert [(r.method, r.body) for r in seen] == [("GET", b""), ("POST", b"<xml/>")]
        assert store.event_counts() == {"new": 1}
        conn.request("POST", "/events", body=b"{}", headers={"Content-Length": "2", "Authorization": "Bearer x"})
        assert conn.getresponse().status == 404  # no token configured: the events endpoint is off
    finally:
        srv.stop()


def test_while_the_daemon_starts_every_request_is_503_and_nothing_is_stored(store: Store) -> None:
    """The daemon binds the intake before it reaches the store (`starting`): until `ready()`
    every request is answered 503 with Retry-After, unread and unstored."""
    from playbook.vocab.localtime import LocalTime

    config = IntakeConfig(token=TOKEN, port=0, timezone="Asia/Shanghai")
    srv = IntakeServer(store, config, starting=True)
    srv.start()
    try:
        host, port = srv.server_address[:2]
        for method, path in (("POST", "/events"), ("GET", "/health")):
            conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
            conn.request(method, path, body=json.dumps([event()]).encode() if method == "POST" else None,
                         headers=bearer())  # fmt: skip
            response = conn.getresponse()
            assert response.status == 503 and response.getheader("Retry-After") == "5"
            assert "starting" in json.loads(response.read())["error"]
            conn.close()
        assert stored(store) == 0
        srv.ready(LocalTime("Asia/Shanghai"))
        status, _ = post(srv, [event()], bearer())
        assert status == 200 and stored(store) == 1
    finally:
        srv.stop()
