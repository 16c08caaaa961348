"""A small client for WeCom's server API (``{base_url}/cgi-bin/…``) on behalf of one app.

    client = WeComClient("https://qyapi.weixin.qq.com", corp_id, secret, timeout=10)
    doc = client.post("externalcontact/add_msg_template", {...})   # errcode 0, or an AdapterError
    doc = client.get("externalcontact/get_moment_task_result", jobid=jobid)
    doc = client.upload("media/upload", "a.jpg", data, "image/jpeg", type="image")

The access token (``gettoken``, valid ``expires_in`` = 7,200 s) is cached until a margin before
it expires, and refreshed by one caller at a time: concurrent callers wait for that refresh and
reuse its token. A call answered 42001 (expired), 40014 (invalid: WeCom may invalidate a token
early) or 41001 (missing) gets a fresh token and is tried once more.

What comes back is the answer's JSON when its errcode is 0. Otherwise (docs/adapters/wecom.md):

* 45009 (the API's per-minute/per-hour frequency) → `TransientError` with ``retry_after`` = 60 s,
  the length of a minute block; 45033 (too many concurrent calls) and -1 (system busy) →
  `TransientError` after a few seconds;
* timeouts, connection errors, HTTP 5xx and answers that are not JSON → `TransientError`;
* any other errcode → `WeComError` (a `PermanentError`) carrying ``errcode``, ``errmsg`` and the
  answer, with a message an operator can act on (60020: this server's IP is not in the app's
  trusted IP list; 48002: the API is not allowed for this app; 40001: wrong secret …).

The secret travels in gettoken's query string and the token in every other one: no message, log
line or repr here quotes a URL, the secret or the token, and httpx's own exceptions (whose text
may name the URL) are never chained to the errors raised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from playbook.adapters.base import PermanentError, TransientError
from playbook.i18n import t

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("playbook.adapters.wecom")

TOKEN_ERRORS = frozenset({40014, 41001, 42001})  # get a new token and try once more
RATE_LIMITED = 45009
BUSY = frozenset({45033, -1})  # too many concurrent calls; system busy
MINUTE_BLOCK = 60.0  # 45009: WeCom counts calls in minute blocks
BUSY_WAIT = 5.0
EXCERPT = 200
HEADERS = {"User-Agent": "playbook-wecom/1"}


def explanation(errcode: int) -> str:
    """What an operator should know about a permanent errcode ('' when nothing more than errmsg)."""
    known = {
        40001: t("wrong secret: check the customer-contact secret (secret)"),
        40003: t("unknown staff member (userid): the account id must be the member's WeCom userid"),
        40013: t("wrong corp id (corp_id)"),
        40056: t("wrong agent id (agent_id) for this secret's app"),
        40007: t("invalid or expired media_id"),
        40068: t("unknown corp tag id"),
        41048: t("no customer to send to: none of them is this staff member's customer"),
        48002: t("API not allowed for this app: make it one of the customer-contact apps (客户联系 → 可调用应用)"),
        60011: t("no privilege: the staff member is outside the app's visible range (可见范围)"),
        60020: t("calling IP not in WeCom's trusted IP list: add this server's public IP to the app (企业可信IP)"),
        84061: t("not this staff member's customer"),
    }
    return known.get(errcode, "")


class RateLimited(TransientError):
    """45009 on `endpoint`: WeCom blocks an API for 60 s once its per-minute limit is passed and
    for 60 minutes once its per-hour limit is (90454); the answer does not say which."""

    def __init__(self, endpoint: str, reason: str, retry_after: float):
        super().__init__(reason, retry_after=retry_after)
        self.endpoint = endpoint


class WeComError(PermanentError):
    """WeCom answered a permanent errcode (not a token, frequency or busy one)."""

    def __init__(self, endpoint: str, errcode: int, errmsg: str, doc: Mapping[str, Any]):
        why = explanation(errcode)
        reason = (
            t("WeCom {endpoint}: errcode {errcode} ({errmsg}): {why}", endpoint=endpoint, errcode=errcode,
              errmsg=errmsg, why=why)
            if why
            else t("WeCom {endpoint}: errcode {errcode} ({errmsg})", endpoint=endpoint, errcode=errcode, errmsg=errmsg)
        )  # fmt: skip
        super().__init__(reason)
        self.endpoint = endpoint
        self.errcode = errcode
        self.errmsg = errmsg
        self.doc = dict(doc)


class WeComClient:
    """See the module docstring. Thread-safe: one httpx.Client, one token for all threads."""

    def __init__(self, base_url: str, corp_id: str, secret: str, *, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time, token_margin: float = 300.0):  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.timeout = timeout
        self.clock = clock
        self.token_margin = token_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_lock = threading.Lock()
        self._http_lock = threading.Lock()
        self._client: httpx.Client | None = None
        self.token_fetches = 0  # gettoken calls made (tests and figures)

    def __repr__(self) -> str:
        return f"WeComClient(base_url={self.base_url!r}, corp_id={self.corp_id!r}, timeout={self.timeout}, secret=…)"

    # ---- HTTP ------------------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        with self._http_lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, headers=HEADERS)
            return self._client

    def close(self) -> None:
        with self._http_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _scrub(self, text: str) -> str:
        for value in (self._secret, self._token):
            if value:
                text = text.replace(value, "***")
        return text

    def _request(self, method: str, endpoint: str, params: Mapping[str, Any], *, body: Any = None,
                 files: Any = None) -> dict[str, Any]:  # fmt: skip
        """One HTTP exchange: the answer's JSON object, or TransientError / PermanentError."""
        import httpx

        url = f"{self.base_url}/cgi-bin/{endpoint}"
        content = None
        headers = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            response = self._http().request(method, url, params=dict(params), content=content, headers=headers,
                                            files=files)  # fmt: skip
        except httpx.TimeoutException:
            raise TransientError(
                t("WeCom did not answer {endpoint} within {seconds} s", endpoint=endpoint, seconds=self.timeout)
            ) from None
        except httpx.TransportError as exc:
            # the type only: an httpx error's text may carry the URL, and so the token or secret
            raise TransientError(
                t("cannot reach WeCom ({endpoint}): {reason}", endpoint=endpoint, reason=type(exc).__name__)
            ) from None
        status = response.status_code
        if status >= 500:
            raise TransientError(t("WeCom answered HTTP {status} to {endpoint}", status=status, endpoint=endpoint))
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            if status != 200:
                raise PermanentError(t("WeCom answered HTTP {status} to {endpoint}", status=status, endpoint=endpoint))
            raise TransientError(t("WeCom's answer to {endpoint} was not a JSON object", endpoint=endpoint))
        return doc

    # ---- the token -------------------------------------------------------------------------------
    def token(self, stale: str | None = None) -> str:
        """The cached access token, fetched when there is none, it is about to expire, or it is
        `stale` (refused by WeCom). One fetch at a time; waiting callers reuse its result."""
        with self._token_lock:
            if self._token is not None and self._token != stale and self.clock() < self._expires_at:
                return self._token
            doc = self._request("GET", "gettoken", {"corpid": self.corp_id, "corpsecret": self._secret})
            self._check("gettoken", doc)
            token = doc.get("access_token")
            if not isinstance(token, str) or not token:
                raise TransientError(t("WeCom's gettoken answer has no access_token"))
            expires_in = doc.get("expires_in")
            ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 7200.0
            self._token = token
            self._expires_at = self.clock() + ttl - min(self.token_margin, ttl / 10)
            self.token_fetches += 1
            log.debug("WeCom: new access token (valid %d s)", ttl)
            return token

    # ---- calls -----------------------------------------------------------------------------------
    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        return self.call("GET", endpoint, params=params)

    def post(self, endpoint: str, body: Mapping[str, Any], **params: Any) -> dict[str, Any]:
        return self.call("POST", endpoint, params=params, body=dict(body))

    def upload(self, endpoint: str, filename: str, data: bytes, content_type: str, **params: Any) -> dict[str, Any]:
        """A multipart/form-data upload, the file in the field `media` (上传临时素材, 上传附件资源)."""
        return self.call("POST", endpoint, params=params, files={"media": (filename, data, content_type)})

    def call(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
             files: Any = None) -> dict[str, Any]:  # fmt: skip
        """One API call with the access token: its answer (errcode 0), or an AdapterError."""
        token = self.token()
        for attempt in (1, 2):
            doc = self._request(method, endpoint, {"access_token": token, **(params or {})}, body=body, files=files)
            errcode = _errcode(doc)
            log.debug("WeCom %s %s: errcode %s", method, endpoint, errcode)
            if errcode in TOKEN_ERRORS and attempt == 1:
                token = self.token(stale=token)
                continue
            if errcode in TOKEN_ERRORS:
                raise TransientError(t("WeCom refused a fresh access token ({endpoint})", endpoint=endpoint))
            self._check(endpoint, doc)
            return doc
        raise AssertionError("unreachable")

    def _check(self, endpoint: str, doc: Mapping[str, Any]) -> None:
        errcode = _errcode(doc)
        if errcode == 0:
            return
        errmsg = self._scrub(" ".join(str(doc.get("errmsg") or "").split()))
        errmsg = errmsg[:EXCERPT] + "…" if len(errmsg) > EXCERPT else errmsg
        if errcode == RATE_LIMITED:
            raise RateLimited(
                endpoint,
                t("WeCom's call frequency limit for {endpoint} (45009): trying again after the minute block",
                  endpoint=endpoint),
                MINUTE_BLOCK,
            )  # fmt: skip
        if errcode in BUSY:
            raise TransientError(
                t("WeCom is busy ({endpoint}: errcode {errcode})", endpoint=endpoint, errcode=errcode),
                retry_after=BUSY_WAIT,
            )
        raise WeComError(endpoint, errcode, errmsg, doc)


def _errcode(doc: Mapping[str, Any]) -> int:
    value = doc.get("errcode", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
