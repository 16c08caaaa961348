"""The WeCom API client against the WeCom-compatible server: the token cache, refreshes, and
how each kind of failure is classified — with no secret or token in any message."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from playbook.adapters.base import PermanentError, TransientError
from playbook.adapters.wecom.client import WeComClient, WeComError
from playbook.testing.wecom_server import WeComServer
from tests.wecom import Clock

CORP, SECRET = "wwclient0001", "client-secret-value"
TAGS = "externalcontact/get_corp_tag_list"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def server(clock: Clock) -> Iterator[WeComServer]:
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock) as srv:
        yield srv


@pytest.fixture
def client(server: WeComServer, clock: Clock) -> Iterator[WeComClient]:
    c = WeComClient(server.url, CORP, SECRET, timeout=2, clock=clock)
    yield c
    c.close()


def gettokens(server: WeComServer) -> int:
    return len(server.calls_to("gettoken"))


def secret_free(*texts: str, token: str | None = None) -> None:
    for text in texts:
        assert SECRET not in text
        if token:
            assert token not in text


def test_one_token_for_many_calls(server: WeComServer, client: WeComClient, clock: Clock) -> None:
    for _ in range(20):
        assert client.post(TAGS, {})["errcode"] == 0
    assert gettokens(server) == 1
    clock.t += 7200 - 200  # within the refresh margin (300 s): a new one before WeCom expires it
    client.post(TAGS, {})
    assert gettokens(server) == 2 and [c.errcode for c in server.calls_to(TAGS)].count(42001) == 0


def test_one_fetch_under_concurrency(server: WeComServer, client: WeComClient) -> None:
    server.slow("gettoken", 0.3)  # the first fetch is slow: everyone else waits for it
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            client.post(TAGS, {})
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and gettokens(server) == 1
    server.expire_tokens()  # all at once find it expired: one refresh, the others reuse it
    threads = [threading.Thread(target=work) for _ in range(16)]
    barrier.reset()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and gettokens(server) == 2


@pytest.mark.parametrize("spoil", ["expire", "invalidate", "missing"])
def test_refused_token_is_refreshed_and_the_call_retried(server: WeComServer, client: WeComClient,
                                                         spoil: str) -> None:  # fmt: skip
    client.post(TAGS, {})
    if spoil == "expire":
        server.expire_tokens()  # 42001 mid-run
    elif spoil == "invalidate":
        server.invalidate_tokens()  # 40014
    else:
        server.fail_next(TAGS, 41001)
    assert client.post(TAGS, {})["errcode"] == 0
    assert gettokens(server) == 2
    assert [c.errcode for c in server.calls_to(TAGS)][-2:] == [{"expire": 42001, "invalidate": 40014,
                                                                  "missing": 41001}[spoil], 0]  # fmt: skip


def test_rate_limits_and_busy_are_transient_with_a_wait(server: WeComServer, client: WeComClient) -> None:
    for code, wait in ((45009, 60.0), (45033, 5.0), (-1, 5.0)):
        server.fail_next(TAGS, code)
        with pytest.raises(TransientError) as caught:
            client.post(TAGS, {})
        assert caught.value.retry_after == wait and str(code) in caught.value.reason
    assert client.post(TAGS, {})["errcode"] == 0


def test_5xx_timeouts_and_refused_connections_are_transient(server: WeComServer, client: WeComClient) -> None:
    client.post(TAGS, {})
    server.fail_http(TAGS, 502)
    with pytest.raises(TransientError, match="502"):
        client.post(TAGS, {})
    slow = WeComClient(server.url, CORP, SECRET, timeout=0.2, clock=client.clock)
    server.slow(TAGS, 0.6)
    with pytest.raises(TransientError, match="within 0.2 s") as caught:
        slow.post(TAGS, {})
    secret_free(caught.value.reason, token=slow._token)
    slow.close()
    gone = WeComClient("http://127.0.0.1:9", CORP, SECRET, timeout=1, clock=client.clock)  # nothing listens
    with pytest.raises(TransientError, match="cannot reach WeCom") as caught:
        gone.post(TAGS, {})
    secret_free(caught.value.reason, repr(caught.value))
    assert "corpsecret" not in caught.value.reason and caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_answers_that_are_not_json_and_errors_that_quote_the_url(clock: Clock) -> None:
    token = "tok-visible-only-in-urls"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("gettoken"):
            return httpx.Response(200, json={"errcode": 0, "access_token": token, "expires_in": 7200})
        if request.url.path.endswith("html"):
            return httpx.Response(200, text="<html>gateway</html>")
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)  # the URL has the token

    client = WeComClient("https://qyapi.example", CORP, SECRET, clock=clock)
    client._client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(TransientError, match="not a JSON object"):
        client.post("html", {})
    with pytest.raises(TransientError) as caught:
        client.post("other", {})
    secret_free(caught.value.reason, str(caught.value), repr(client), token=token)
    assert "qyapi.example" not in caught.value.reason


@pytest.mark.parametrize(
    ("code", "words"),
    [(60020, "trusted IP"), (48002, "not allowed for this app"), (84061, "not this staff member's customer")],
)
def test_permanent_errcodes_carry_a_clear_reason(server: WeComServer, client: WeComClient, code: int,
                                                  words: str) -> None:  # fmt: skip
    server.fail_next(TAGS, code)
    with pytest.raises(WeComError) as caught:
        client.post(TAGS, {})
    assert isinstance(caught.value, PermanentError)
    assert caught.value.errcode == code and words in caught.value.reason and str(code) in caught.value.reason
    assert caught.value.retry_after is None


def test_a_wrong_secret_says_so_without_showing_it(server: WeComServer, clock: Clock) -> None:
    wrong = "the-wrong-secret-123"
    client = WeComClient(server.url, CORP, wrong, clock=clock)
    with pytest.raises(WeComError) as caught:
        client.post(TAGS, {})
    assert caught.value.errcode == 40001 and "wrong secret" in caught.value.reason
    for text in (caught.value.reason, str(caught.value), repr(caught.value), repr(client), str(caught.value.doc)):
        assert wrong not in text
    client.close()
