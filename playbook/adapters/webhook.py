"""The `webhook` adapter: POSTs each batch of deliveries as JSON to a URL.

    [adapter]
    name = "webhook"
    [adapter.options]
    url = "https://ops.example.com/playbook/touches"
    timeout = 10        # seconds
    batch_size = 100    # deliveries per request

Secrets (never in the playbook or the config; see docs/adapters/README.md): `secret`, the
HMAC-SHA256 key for `X-Playbook-Signature: sha256=<hex>` over the exact body bytes, and
`token`, sent as `Authorization: Bearer <token>`. A URL with `user:password@` is sent with
Basic auth; with a token as well it is refused (one would silently replace the other).

The body is `{"touches": [delivery, …]}` (each delivery as the jsonl adapter writes it). The
`Idempotency-Key` header is the delivery's key (percent-encoded UTF-8 where it is not plain
ASCII), or for a batch the hex SHA-256 of its sorted keys joined by newlines; receivers deduplicate by it (and by each touch's `key`), which is why a crash may be
recovered by sending again (`idempotent = True`). A 2xx answer means every touch was
taken, unless its JSON says otherwise per key: `{"results": {key: {"status": "sent" |
"failed" | "dead", "error": …, "ref": …, "retry_after": seconds}}}`. 408, 425, 429, 5xx,
timeouts and connection errors are transient (Retry-After is honoured); any other status is
permanent.

After a crash the daemon asks the receiver about the touches whose call it did not see end
(only if `reconcile_url` is set): `POST {reconcile_url}` with `{"keys": [key, …]}` (signed
and authenticated as a send), answered 2xx with `{"results": {key: {"status": "sent" |
"failed" | "dead" | "unknown", …}}}`. `unknown` means the receiver never took that key — it
is sent again; answer it only for keys no request still in progress carries. A key left out
stays undecided (`unknown` in the ledger, for `playbook requeue`).

Every request carries the touches of one shard of the store (scale-out: several daemons,
each holding some shards; a single daemon is shard 0) and says which: `X-Playbook-Shard:
<shard>` and `X-Playbook-Fence: <token>`, that shard's lease token, which grows with each
take-over of the shard. A receiver that keeps **the highest token seen per shard** and
answers `409` with `{"fenced": true}` to a lower one for the same shard makes sure a daemon
paused past a shard's lease cannot deliver that shard's touches after the new holder
reconciled; the adapter then tells the daemon (`Fenced`, with the shard), which stops
sending that shard. Tokens of different shards are not comparable: keep one per shard (a
request without `X-Playbook-Shard` is shard 0).

httpx is imported when the first request is made, not with the module: `plan` and `check`
load this class only for its capabilities.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from playbook.adapters.base import (
    ABSENT,
    DEAD,
    FAILED,
    SENT,
    Adapter,
    Delivery,
    Fenced,
    PermanentError,
    Result,
    TransientError,
)
from playbook.adapters.capabilities import BUILTIN, Capabilities
from playbook.adapters.jsonl import delivery_record
from playbook.adapters.registry import adapter_error, check_options, require_option
from playbook.i18n import t

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("playbook.adapters.webhook")

SIGNATURE_HEADER = "X-Playbook-Signature"
FENCE_HEADER = "X-Playbook-Fence"
SHARD_HEADER = "X-Playbook-Shard"
RECONCILE_CHUNK = 1000  # keys asked about per reconcile request
HEADERS = {"User-Agent": "playbook-webhook/1"}
DEFAULT_TIMEOUT = 10.0
DEFAULT_BATCH_SIZE = 100
TRANSIENT_STATUSES = frozenset({408, 425, 429})  # and every 5xx
KEY_SAFE = "/:@-._~!$&'()*+,;="  # printable ASCII a header takes as it is (not %, which escapes)
EXCERPT = 200  # characters of a receiver's answer kept in an error


def sign(body: bytes, secret: str) -> str:
    """The X-Playbook-Signature value for a body (the event intake also signs a timestamp; this does not, yet)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def idempotency_key(batch: Sequence[Delivery]) -> str:
    if len(batch) == 1:
        # Headers are ASCII and keys carry flow names (often Chinese): percent-encode as UTF-8,
        # which leaves a plain key as it is and lets the receiver match it to the body's `key`.
        return quote(batch[0].key, safe=KEY_SAFE)
    # Sorted: the same touches regrouped in another order are the same request.
    return hashlib.sha256("\n".join(sorted(d.key for d in batch)).encode("utf-8")).hexdigest()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now; None if absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class WebhookAdapter(Adapter):
    name: ClassVar[str] = "webhook"
    capabilities: ClassVar[Capabilities] = BUILTIN["webhook"]
    idempotent: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None):
        super().__init__(options, secrets)
        check_options(self.name, self.options, ["url", "timeout", "batch_size", "reconcile_url"])
        self.url = str(require_option(self.name, self.options, "url"))
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise adapter_error(t("the webhook option 'url' must be an http:// or https:// URL"))
        reconcile_url = self.options.get("reconcile_url")
        self.reconcile_url = str(reconcile_url) if reconcile_url else None
        if self.reconcile_url is not None:
            parts = urlsplit(self.reconcile_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise adapter_error(t("the webhook option 'reconcile_url' must be an http:// or https:// URL"))
        self._fences: dict[int, int] = {}  # the daemon's lease token per shard it holds (`fence`)
        self.timeout = _number(self.options.get("timeout", DEFAULT_TIMEOUT), "timeout", whole=False)
        batch_size = int(_number(self.options.get("batch_size", DEFAULT_BATCH_SIZE), "batch_size", whole=True))
        # The dispatcher batches by the instance's capabilities: the configured size wins over the class default.
        self.capabilities = replace(type(self).capabilities, batch_size=batch_size)  # type: ignore[misc]
        self._secret = self.secrets.get("secret") or None
        self._token = self.secrets.get("token") or None
        if (parts.username or parts.password) and self._token:
            # httpx would send the URL's user:password as Basic auth in place of the bearer token
            raise adapter_error(
                t("the webhook URL carries credentials (user:password@) and a token is set: the URL's credentials "
                  "would silently replace the bearer token"),
                hint=t("remove user:password@ from the URL, or the webhook token from the secrets"),
            )  # fmt: skip
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def _shown(self) -> str:
        """The URL without credentials or query string: what logs and errors may show."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return f"{parts.scheme}://{host}{parts.path}"

    def __repr__(self) -> str:
        held = [name for name in ("secret", "token") if self.secrets.get(name)]
        return f"WebhookAdapter(url={self._shown!r}, timeout={self.timeout}, secrets={held})"

    def open(self) -> None:
        self._http()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, headers=HEADERS)
            return self._client

    def fence(self, token: int, shard: int = 0) -> None:
        self._fences[shard] = token

    def _headers(self, body: bytes, shard: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._fences:
            token = self._fences.get(shard)
            if token is None:  # the daemon never took this shard: its touches are not ours to send
                raise Fenced(t("this daemon holds no lease on shard {shard}", shard=shard), shard=shard)
            headers[FENCE_HEADER] = str(token)
            headers[SHARD_HEADER] = str(shard)
        return headers

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        if not batch:
            return []
        body = json.dumps(
            {"touches": [delivery_record(d) for d in batch]}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        shard = _shard_of(batch)
        headers = {**self._headers(body, shard), "Idempotency-Key": idempotency_key(batch)}
        response = self._post(self.url, body, headers, len(batch), shard)
        return self._results(batch, response)

    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """Ask the receiver (`reconcile_url`) what became of each key: sent, failed, dead, or
        unknown to it (`ABSENT`: sent again). Without a `reconcile_url`, nothing is known."""
        if self.reconcile_url is None or not deliveries:
            return []
        out: list[Result] = []
        by_shard: dict[int, list[Delivery]] = {}
        for d in deliveries:  # one request asks about one shard's keys, under that shard's token
            by_shard.setdefault(d.shard, []).append(d)
        chunks = [(shard, ds[i : i + RECONCILE_CHUNK]) for shard, ds in sorted(by_shard.items())
                  for i in range(0, len(ds), RECONCILE_CHUNK)]  # fmt: skip
        for shard, chunk in chunks:
            body = json.dumps({"keys": [d.key for d in chunk]}, ensure_ascii=False, separators=(",", ":")).encode()
            response = self._post(self.reconcile_url, body, self._headers(body, shard), len(chunk), shard)
            try:
                doc = response.json()
            except ValueError:
                doc = None
            per_key = doc.get("results") if isinstance(doc, dict) else None
            if not isinstance(per_key, dict):
                continue
            for d in chunk:
                entry = per_key.get(d.key)
                if isinstance(entry, dict) and entry.get("status") == "unknown":
                    out.append(Result(d.key, ABSENT))
                elif isinstance(entry, dict) and entry.get("status") in (SENT, FAILED, DEAD):
                    out.append(self._result(d.key, entry))
        return out

    def _post(self, url: str, body: bytes, headers: dict[str, str], count: int, shard: int) -> httpx.Response:
        """POST; a 2xx answer is returned, anything else raised as transient, permanent or fenced."""
        import httpx

        try:
            response = self._http().post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientError(t("the webhook did not answer within {seconds} s", seconds=self.timeout)) from None
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TransientError(t("cannot reach the webhook: {reason}", reason=self._scrub(reason))) from None
        log.debug("POST %s: %d touches, answer %d", self._shown, count, response.status_code)
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status == 409 and _says_fenced(response):
            raise Fenced(t("the webhook refused this daemon's calls for shard {shard}: a newer holder of the shard "
                           "sent under a higher token", shard=shard), shard=shard)  # fmt: skip
        excerpt = self._excerpt(response.text)
        reason = (
            t("the webhook answered {status}: {body}", status=status, body=excerpt)
            if excerpt
            else t("the webhook answered {status}", status=status)
        )
        if status in TRANSIENT_STATUSES or status >= 500:
            raise TransientError(reason, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        raise PermanentError(reason)

    def _results(self, batch: Sequence[Delivery], response: httpx.Response) -> list[Result]:
        try:
            doc = response.json()
        except ValueError:  # an empty or non-JSON 2xx: everything was taken
            doc = None
        per_key = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(per_key, dict):
            return [Result(d.key, SENT) for d in batch]
        return [self._result(d.key, per_key.get(d.key)) for d in batch]

    def _result(self, key: str, entry: Any) -> Result:
        if entry is None:
            return Result(key, SENT)  # not mentioned: the 2xx covers it
        status = entry.get("status") if isinstance(entry, dict) else None
        if status not in (SENT, FAILED, DEAD):
            # Marking it sent could lose a touch; failed retries it and the receiver deduplicates.
            return Result(key, FAILED, error=t("the webhook gave no valid status for this touch"))
        ref, error, wait = entry.get("ref"), entry.get("error"), entry.get("retry_after")
        if status != SENT and error is not None:
            error = self._excerpt(str(error)) or None
        else:
            error = None
        wait = float(wait) if status == FAILED and _is_number(wait) and wait >= 0 else None
        return Result(
            key,
            status,
            error=error,
            ref=str(ref) if isinstance(ref, str) or _is_number(ref) else None,
            retry_after=wait,
        )

    def _excerpt(self, text: str) -> str:
        text = " ".join(self._scrub(text).split())  # scrubbed first: a cut must not leave half a secret
        return text[:EXCERPT] + "…" if len(text) > EXCERPT else text

    def _scrub(self, text: str) -> str:
        """A receiver or a library may echo a credential back: never let one into an error."""
        for value in (self._secret, self._token):
            if value:
                text = text.replace(value, "***")
        return text

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _shard_of(batch: Sequence[Delivery]) -> int:
    """The one shard a call's touches belong to (the dispatcher batches by shard)."""
    shards = {d.shard for d in batch}
    if len(shards) != 1:
        raise ValueError(f"a webhook call carries the touches of one shard, not of {sorted(shards)}")
    return shards.pop()


def _says_fenced(response: httpx.Response) -> bool:
    try:
        doc = response.json()
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("fenced") is True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, option: str, *, whole: bool) -> float:
    ok = _is_number(value) and value > 0
    if ok and whole and value != int(value):
        ok = False
    if not ok:
        kind = t("a positive whole number") if whole else t("a positive number")
        raise adapter_error(t("the webhook option '{option}' must be {kind}", option=option, kind=kind))
    return float(value)
