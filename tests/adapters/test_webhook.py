"""The webhook adapter against a real HTTP receiver on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from playbook.adapters.base import ABSENT, DEAD, FAILED, SENT, Delivery, Fenced, PermanentError, Result, TransientError
from playbook.adapters.webhook import WebhookAdapter, retry_after_seconds
from playbook.diagnostics import PlaybookError

Make = Callable[..., Delivery]
SECRET = "s3cr3t-hmac-key-value"
TOKEN = "t0k3n-bearer-value"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str = "reply"  # reply | hang | reset


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging handler must not hold the test up

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.replies: list[Reply] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/touches"

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if self.replies else Reply()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the reset case breaks the connection on purpose


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers.items()), body))
        reply = self.server.next_reply()
        if reply.action == "hang":
            self.server.release.wait(2)
            return
        if reply.action == "reset":  # SO_LINGER 0: close sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(server: Receiver) -> Receiver:
    server.replies.clear()
    server.requests.clear()
    return server


@pytest.fixture(scope="module")
def adapter(server: Receiver) -> Iterator[WebhookAdapter]:
    # One for the module: building an httpx client (its TLS context) is most of a test's time.
    hook = WebhookAdapter({"url": server.url, "timeout": 0.2}, {"secret": SECRET, "token": TOKEN})
    hook.open()
    yield hook
    hook.close()


def test_posts_signed_json(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    batch = [make_delivery("k1"), make_delivery("k2", contact="c2")]
    assert adapter.send(batch) == [Result("k1", SENT), Result("k2", SENT)]
    headers, body = receiver.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Playbook-Signature"], expected)
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Idempotency-Key"] == hashlib.sha256(b"k1\nk2").hexdigest()
    doc = json.loads(body)
    assert [t["key"] for t in doc["touches"]] == ["k1", "k2"]
    assert doc["touches"][0]["flow"] == "新客培育" and doc["touches"][0]["at"] == "2026-12-01T00:00:00+00:00"
    # One delivery: its own key; the same batch in another order: the same key.
    adapter.send([make_delivery("k9")])
    assert receiver.requests[1][0]["Idempotency-Key"] == "k9"
    adapter.send(batch[::-1])
    assert receiver.requests[2][0]["Idempotency-Key"] == headers["Idempotency-Key"]


def test_without_secrets_nothing_is_signed(receiver: Receiver, make_delivery: Make) -> None:
    WebhookAdapter({"url": receiver.url}).send([make_delivery()])
    headers, _ = receiver.requests[0]
    assert "X-Playbook-Signature" not in headers and "Authorization" not in headers


def test_per_key_results_are_honoured(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    results = {
        "k1": {"status": "sent", "ref": "msg-1"},
        "k2": {"status": "failed", "error": "busy", "retry_after": 30},
        "k3": {"status": "dead", "error": "unknown user"},
        "k5": {"status": "maybe"},
    }
    receiver.replies.append(Reply(200, json.dumps({"results": results}).encode()))
    batch = [make_delivery(k) for k in ("k1", "k2", "k3", "k4", "k5")]
    assert adapter.send(batch) == [
        Result("k1", SENT, ref="msg-1"),
        Result("k2", FAILED, error="busy", retry_after=30.0),
        Result("k3", DEAD, error="unknown user"),
        Result("k4", SENT),  # not mentioned: the 2xx covers it
        Result("k5", FAILED, error="the webhook gave no valid status for this touch"),
    ]


@pytest.mark.parametrize("status", [500, 502, 503, 408, 425, 429])
def test_server_errors_and_rate_limits_are_transient(
    adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make, status: int
) -> None:
    receiver.replies.append(Reply(status, b"try later"))
    with pytest.raises(TransientError) as err:
        adapter.send([make_delivery()])
    assert err.value.reason == f"the webhook answered {status}: try later"
    assert err.value.retry_after is None


def test_retry_after_is_honoured(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    receiver.replies.append(Reply(429, headers={"Retry-After": "7"}))
    with pytest.raises(TransientError) as err:
        adapter.send([make_delivery()])
    assert err.value.retry_after == 7.0 and err.value.reason == "the webhook answered 429"
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    receiver.replies.append(Reply(503, headers={"Retry-After": when}))
    with pytest.raises(TransientError) as err:
        adapter.send([make_delivery()])
    assert err.value.retry_after is not None and 100 < err.value.retry_after <= 120


def test_retry_after_values() -> None:
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") == 0.0 and retry_after_seconds("nan") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412400.0) == 80.0


def test_timeout_is_transient(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    receiver.replies.append(Reply(action="hang"))
    with pytest.raises(TransientError, match="did not answer within 0.2 s"):
        adapter.send([make_delivery()])


def test_connection_reset_is_transient(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    receiver.replies.append(Reply(action="reset"))
    with pytest.raises(TransientError, match="cannot reach the webhook"):
        adapter.send([make_delivery()])
    assert adapter.send([make_delivery()]) == [Result("pb-1/新客培育/c1/n1/0", SENT)]  # and it recovers


def test_connection_refused_is_transient(make_delivery: Make) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientError, match="cannot reach the webhook: ConnectError"):
        WebhookAdapter({"url": f"http://127.0.0.1:{port}/x", "timeout": 0.5}).send([make_delivery()])


@pytest.mark.parametrize("status", [400, 401, 404, 422, 301])
def test_other_statuses_are_permanent(
    adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make, status: int
) -> None:
    receiver.replies.append(Reply(status, b'{"error": "bad touch"}' + b"x" * 500))
    with pytest.raises(PermanentError) as err:
        adapter.send([make_delivery()])
    assert err.value.reason.startswith(f'the webhook answered {status}: {{"error": "bad touch"}}xxx')
    assert err.value.reason.endswith("…") and len(err.value.reason) < 260  # a short excerpt


def test_secrets_never_show(adapter: WebhookAdapter, receiver: Receiver, make_delivery: Make) -> None:
    echo = f"refused Authorization: Bearer {TOKEN} with key {SECRET}".encode()
    receiver.replies += [Reply(401, echo), Reply(500, echo)]
    for error in (PermanentError, TransientError):
        with pytest.raises(error) as err:
            adapter.send([make_delivery()])
        shown = f"{err.value} {err.value!r} {err.value.reason}"
        assert TOKEN not in shown and SECRET not in shown and "Bearer ***" in shown
    receiver.replies.append(Reply(200, json.dumps({"results": {"k": {"status": "dead", "error": TOKEN}}}).encode()))
    assert adapter.send([make_delivery("k")]) == [Result("k", DEAD, error="***")]
    shown = repr(adapter) + str(adapter)
    assert TOKEN not in shown and SECRET not in shown
    assert repr(adapter) == f"WebhookAdapter(url='{receiver.url}', timeout=0.2, secrets=['secret', 'token'])"
    hidden = WebhookAdapter({"url": "https://user:pass@hooks.example.com:8443/in?key=abc"})
    assert "pass" not in repr(hidden) and "abc" not in repr(hidden)
    assert "https://hooks.example.com:8443/in" in repr(hidden)


def test_options_are_checked() -> None:
    assert WebhookAdapter.idempotent is True
    hook = WebhookAdapter({"url": "http://127.0.0.1:1/x", "batch_size": 7, "timeout": 3})
    assert hook.capabilities.batch_size == 7 and hook.timeout == 3.0
    assert WebhookAdapter.capabilities.batch_size == 100  # the class default is untouched
    for options, message in [
        ({"url": "ftp://x/y"}, "must be an http:// or https:// URL"),
        ({"url": "http://x", "timeout": 0}, "'timeout' must be a positive number"),
        ({"url": "http://x", "timeout": "10"}, "'timeout' must be a positive number"),
        ({"url": "http://x", "batch_size": 2.5}, "'batch_size' must be a positive whole number"),
        ({"url": "http://x", "batch_size": True}, "'batch_size' must be a positive whole number"),
        ({"url": "http://x", "retries": 3}, "has no option 'retries'"),
    ]:
        with pytest.raises(PlaybookError, match=message):
            WebhookAdapter(options)


def test_url_credentials_with_a_token_are_an_error() -> None:
    url = "https://ops:pa55@hooks.example.com/in"
    with pytest.raises(PlaybookError) as err:
        WebhookAdapter({"url": url}, {"token": "tok-1"})
    message = str(err.value)
    assert "carries credentials (user:password@) and a token is set" in message
    assert "pa55" not in message and "tok-1" not in message  # the error names neither secret
    assert WebhookAdapter({"url": url}, {"secret": "s"})._secret == "s"  # Basic auth with a signature: fine
    assert WebhookAdapter({"url": "https://hooks.example.com/in"}, {"token": "tok-1"})._token == "tok-1"
def test_reconcile_asks_the_receiver_and_unknown_keys_are_absent(receiver: Receiver, make_delivery: Make) -> None:
    hook = WebhookAdapter({"url": receiver.url, "reconcile_url": receiver.url.replace("/touches", "/reconcile")},
                          {"secret": SECRET})  # fmt: skip
    hook.fence(7)
    results = {"k1": {"status": "sent", "ref": "m-1"}, "k2": {"status": "unknown"}, "k3": {"status": "nonsense"}}
    receiver.replies.append(Reply(body=json.dumps({"results": results}).encode()))
    asked = [make_delivery("k1"), make_delivery("k2"), make_delivery("k3"), make_delivery("k4")]
    got = hook.reconcile(asked)
    hook.close()
    # k3 (an unreadable status) and k4 (not listed) stay undecided
    assert got == [Result("k1", SENT, ref="m-1"), Result("k2", ABSENT)]
    headers, body = receiver.requests[0]
    assert json.loads(body) == {"keys": ["k1", "k2", "k3", "k4"]}
    assert headers["X-Playbook-Fence"] == "7" and headers["X-Playbook-Shard"] == "0"
    assert hmac.compare_digest(headers["X-Playbook-Signature"],
                               "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest())  # fmt: skip
    assert WebhookAdapter({"url": receiver.url}).reconcile(asked) == []  # no reconcile_url: nothing known


def test_a_receiver_that_saw_a_newer_fence_stops_the_daemon(receiver: Receiver, make_delivery: Make) -> None:
    hook = WebhookAdapter({"url": receiver.url})
    hook.fence(3)
    receiver.replies.append(Reply(409, b'{"fenced": true}'))
    with pytest.raises(Fenced):
        hook.send([make_delivery("k1")])
    receiver.replies.append(Reply(409, b'{"error": "conflict"}'))  # another 409 stays permanent
    with pytest.raises(PermanentError):
        hook.send([make_delivery("k1")])
    hook.close()


def test_each_call_carries_its_shard_and_that_shards_token(receiver: Receiver, make_delivery: Make) -> None:
    """Scale-out: a call holds one shard's touches; the headers name the shard and its token,
    a 409 names the shard refused, and a shard never fenced is not this daemon's to send."""
    hook = WebhookAdapter({"url": receiver.url, "reconcile_url": receiver.url.replace("/touches", "/reconcile")})
    hook.fence(3, shard=0)
    hook.fence(9, shard=5)
    hook.send([make_delivery("a", shard=5), make_delivery("b", shard=5)])
    hook.send([make_delivery("c", shard=0)])
    sent = [(h["X-Playbook-Shard"], h["X-Playbook-Fence"]) for h, _ in receiver.requests]
    assert sent == [("5", "9"), ("0", "3")]
    receiver.replies.append(Reply(409, b'{"fenced": true}'))
    with pytest.raises(Fenced) as refused:
        hook.send([make_delivery("d", shard=5)])
    assert refused.value.shard == 5 and "shard 5" in str(refused.value)
    with pytest.raises(Fenced) as never_held:
        hook.send([make_delivery("e", shard=2)])
    assert never_held.value.shard == 2 and len(receiver.requests) == 3  # nothing sent for shard 2
    with pytest.raises(ValueError, match="one shard"):
        hook.send([make_delivery("f", shard=0), make_delivery("g", shard=5)])
    receiver.requests.clear()
    receiver.replies += [Reply(body=b'{"results": {"c": {"status": "sent"}}}'),
                         Reply(body=b'{"results": {"a": {"status": "unknown"}}}')]  # fmt: skip
    got = hook.reconcile([make_delivery("a", shard=5), make_delivery("c", shard=0)])
    assert got == [Result("c", SENT), Result("a", ABSENT)]  # one request per shard, shard order
    asked = [(h["X-Playbook-Shard"], h["X-Playbook-Fence"], json.loads(b)["keys"]) for h, b in receiver.requests]
    assert asked == [("0", "3", ["c"]), ("5", "9", ["a"])]
    hook.close()


def test_an_unfenced_adapter_sends_no_fence_headers(receiver: Receiver, make_delivery: Make) -> None:
    hook = WebhookAdapter({"url": receiver.url})
    hook.send([make_delivery("k1", shard=4)])  # outside a daemon (no lease): no token to send
    headers, _ = receiver.requests[0]
    assert "X-Playbook-Fence" not in headers and "X-Playbook-Shard" not in headers
    hook.close()
