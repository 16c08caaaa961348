"""The `wecom` adapter: touches through WeCom's (企业微信) customer-contact server API.

    [adapter]
    name = "wecom"
    [adapter.options]
    corp_id = "ww0123456789abcdef"
    agent_id = 1000002                  # the app that sends staff tasks (app messages)
    quota = "month"                     # the admin's mass-message rule: month | week | day
    media_dir = "/srv/playbook"         # relative image paths in playbooks resolve here
    state_file = "/srv/playbook/wecom-state.json"
    [adapter.options.groups."车厘子预售群"]  # short-term groups: each account's chats their join way starts from
    a1 = ["wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"]

Secrets (`[wecom]` in the secrets file, or PLAYBOOK_WECOM_<KEY>): `secret` (the app's secret,
an app allowed to call the customer-contact APIs), `callback_token` and `callback_aes_key` (the
callback URL's Token and EncodingAESKey).

Ids: a contact's id is the customer's `external_userid`; an account's id is the staff member's
`userid`. What each channel becomes (docs/adapters/wecom.md):

* dm → a mass-message task (`add_msg_template`, chat_type single) of the account for every
  customer of the batch with the same text and parts, ≤ 10,000 a call; the staff member
  confirms it in the client, and `receipts` reads the outcome later (`get_groupmsg_send_result`).
  An invitation (a dm for a group instance) carries the instance's join way QR code as a link.
* group → a mass-message task to the instance's chats (chat_type group).
* moment → a Moments task (`add_moment_task`) for the account, visible to the customers carrying
  a corp tag kept in step with the post's audience first (`mark_tag`).
* task → an app message to the staff member (`message/send`), throttled below WeCom's silent
  drop limits (30 a minute, 1,000 an hour per member): beyond them the delivery is put off.
* tag → `mark_tag` with the corp tag of that name (created in `tag_group` when missing).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from playbook.adapters.base import (
    DEAD,
    FAILED,
    LATER,
    SENT,
    Adapter,
    AdapterError,
    CallbackRoute,
    Delivery,
    EventSink,
    HttpRequest,
    HttpResponse,
    PermanentError,
    Receipt,
    Result,
    Synced,
    TransientError,
)
from playbook.adapters.capabilities import BUILTIN, WECOM_TIMEZONE, WELCOME_REF, Capabilities, wecom_limits
from playbook.adapters.registry import adapter_error, check_options, require_option
from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.callbacks import translate
from playbook.adapters.wecom.client import RateLimited, WeComClient, WeComError
from playbook.adapters.wecom.media import Media, attachments
from playbook.adapters.wecom.state import AdapterState
from playbook.adapters.wecom.sync import WeComSync, sync_interval
from playbook.i18n import t
from playbook.vocab.model import Event

log = logging.getLogger("playbook.adapters.wecom")

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_TIMEOUT = 10.0
DEFAULT_TAG_GROUP = "playbook"
DEFAULT_STATE_FILE = "wecom-state.json"
PER_MINUTE, PER_HOUR = 25, 900  # app messages to one member; WeCom drops beyond 30 and 1,000
PLATFORM_PER_MINUTE, PLATFORM_PER_HOUR = 30, 1000
MAX_RECIPIENTS = 10_000  # external_userid per add_msg_template
MAX_CHATS = 2000  # chat_id_list per add_msg_template
MAX_JOIN_CHATS = 5  # chat_id_list per join way
MAX_TAG_NAME = 30  # characters in a corp tag's name
CALLBACK_PATH = "/wecom/callback"
SEEN_CALLBACKS = 10_000  # callbacks remembered to drop WeCom's retries
MADE = 2000  # mass-message tasks remembered with the keys they carry (reconcile)
RECEIPT_FIRST, RECEIPT_MAX = 60.0, 3600.0  # how often one task is asked about: doubling up to an hour
LOOKBACK = 300  # seconds before a touch's `at` that its task may carry (clock skew)
OPTIONS = ("corp_id", "agent_id", "base_url", "timeout", "quota", "tag_group", "media_dir",
           "app_messages_per_minute", "app_messages_per_hour", "groups", "state_file", "confirm_within",
           "remind_after")  # fmt: skip
OPTIONS += ("sync", "personal_tags")  # contact sync (sync.py)
SYNC_RETRY = 600.0  # seconds before a failed scheduled sync is tried again
REREAD_RETRY = 60.0  # seconds before customers a callback named are read again after a failure
# Configuration errors: nothing is sent (for everyone, or for one account) until a probe call
# succeeds; the touches stay pending, no attempt used. 60020 is checked on data calls only, so a
# token says nothing about it (the trusted IP list, 企业可信IP).
HOLD_ALL = frozenset({60020, 48002, 40001, 40013, 41004})
HOLD_ACCOUNT = frozenset({60011})
PROBE_EVERY = 60.0  # seconds between probe calls while held
MINUTE_BLOCK, HOUR_BLOCK = 60.0, 3600.0  # 45009: blocked 60 s, or 60 minutes (90454)
WELCOME_TTL = 20.0  # a WelcomeCode may be used within 20 s of the callback, once (92137/92599)
WELCOME_MARGIN = 2.0  # not tried in the last seconds of its life (the call itself takes time)
WELCOME_RETRIES = 3  # transient failures (41096: another app is sending one; timeouts) retried within the 20 s
CONFIRM_WITHIN = 86400  # an unconfirmed mass-message task is cancelled after this (option confirm_within)
KEEP_TASKS = 8 * 86400  # tasks remembered (receipts: 7 days; reminders, cancelling)
KEEP_KEYS = 2 * 86400  # the keys a task carries, remembered this long (recovery looks back hours, not days)
PRUNE_EVERY = 3600.0
TASK_UNSENT = 0  # get_groupmsg_task: the staff member has not sent it (2: sent)
ENDPOINTS = {"dm": "externalcontact/add_msg_template", "group": "externalcontact/add_msg_template",
             "moment": "externalcontact/add_moment_task", "tag": "externalcontact/mark_tag"}  # fmt: skip


@dataclass
class Hold:
    """Sending stopped by a configuration error until a probe call succeeds."""

    errcode: int
    alert: str  # what status and the log say
    since: float
    next_probe: float


@dataclass
class Block:
    """An API blocked by 45009: a minute block (60 s) that turns into an hour block when the
    API is still refused once the minute is over."""

    until: float
    kind: str  # minute | hour
    first: float
STATUSES = {1: "confirmed", 2: "not_friend", 3: "quota"}  # get_groupmsg_send_result's status
EXPIRED = "expired"  # a receipt: nobody confirmed the task within confirm_within; it was cancelled


def moment_tag_name(flow: str, step: str, content: str | None) -> str:
    """The corp tag that carries one Moments rule's audience: readable (calendar · content) and
    ≤ 30 characters, with 4 hex digits of the rule so two rules posting one content differ."""
    digest = hashlib.sha1(f"{flow}\n{step}".encode()).hexdigest()[:4]
    base = f"{flow}·{content}" if content else flow
    return f"{base[: MAX_TAG_NAME - 5]}·{digest}"


class Throttle:
    """At most `per_minute` and `per_hour` app messages to one staff member (sliding windows)."""

    def __init__(self, per_minute: int, per_hour: int, clock: Callable[[], float]):
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.clock = clock
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, who: str) -> float:
        """0 when a message to `who` may go now (and it is counted); else the seconds until one may."""
        with self._lock:
            now = self.clock()
            sent = self._sent[who]
            while sent and sent[0] <= now - 3600:
                sent.popleft()
            wait = 0.0
            minute = [s for s in sent if s > now - 60]
            if len(minute) >= self.per_minute:
                wait = minute[-self.per_minute] + 60 - now
            if len(sent) >= self.per_hour:
                wait = max(wait, sent[-self.per_hour] + 3600 - now)
            if wait > 0:
                return max(1.0, wait)
            sent.append(now)
            return 0.0


class WeComAdapter(Adapter):
    name: ClassVar[str] = "wecom"
    capabilities: ClassVar[Capabilities] = BUILTIN["wecom"]
    idempotent: ClassVar[bool] = False
    gives_receipts: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None, *,
                 clock: Callable[[], float] | None = None):  # fmt: skip
        super().__init__(options, secrets)
        opts = self.options
        check_options(self.name, opts, OPTIONS)
        self.corp_id = str(require_option(self.name, opts, "corp_id"))
        self.agent_id = _agent_id(opts.get("agent_id"))
        self.base_url = str(opts.get("base_url", DEFAULT_BASE_URL)).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise adapter_error(t("the wecom option 'base_url' must be an http:// or https:// URL"))
        self.timeout = _positive(opts.get("timeout", DEFAULT_TIMEOUT), "timeout", whole=False)
        self.quota = opts.get("quota", "month")
        if self.quota not in ("month", "week", "day"):
            raise adapter_error(t("the wecom option 'quota' is month, week or day (the admin's mass-message rule)"))
        self.tag_group = str(opts.get("tag_group", DEFAULT_TAG_GROUP)).strip()
        if not self.tag_group:
            raise adapter_error(t("the wecom option 'tag_group' cannot be empty"))
        media_dir = opts.get("media_dir")
        self.media_dir = Path(str(media_dir)) if media_dir else None
        self.per_minute = int(_positive(opts.get("app_messages_per_minute", PER_MINUTE), "app_messages_per_minute",
                                        whole=True, most=PLATFORM_PER_MINUTE))  # fmt: skip
        self.per_hour = int(_positive(opts.get("app_messages_per_hour", PER_HOUR), "app_messages_per_hour",
                                      whole=True, most=PLATFORM_PER_HOUR))  # fmt: skip
        self.groups = _groups(opts.get("groups", {}))
        self.state_path = Path(str(opts.get("state_file", DEFAULT_STATE_FILE)))
        self.confirm_within = _positive(opts.get("confirm_within", CONFIRM_WITHIN), "confirm_within", whole=True)
        self.remind_after = float(opts.get("remind_after", self.confirm_within / 2) or 0)
        if self.remind_after < 0 or self.remind_after >= self.confirm_within:
            raise adapter_error(t("the wecom option 'remind_after' must be 0 (never) or less than confirm_within"))
        secret = self.secrets.get("secret")
        if not secret:
            raise adapter_error(
                t("the wecom adapter needs its app's secret"),
                t("set PLAYBOOK_WECOM_SECRET, or secret under [wecom] in the secrets file"),
            )
        self._callback_token = self.secrets.get("callback_token") or None
        self._callback_key = self.secrets.get("callback_aes_key") or None
        # The engine enforces the deployment's quota ahead of time: the daemon reads these limits.
        self.capabilities = replace(BUILTIN["wecom"], limits=wecom_limits(self.quota))  # type: ignore[misc]
        self.clock = clock or time.time
        self.client = WeComClient(self.base_url, self.corp_id, secret, timeout=self.timeout, clock=self.clock)
        self.state = AdapterState(self.state_path)
        self.media = Media(self.client, self.state, self.media_dir, self.timeout, self.clock)
        self.throttle = Throttle(self.per_minute, self.per_hour, self.clock)
        self._tags: dict[str, str] | None = None  # corp tag name → id
        self._tags_lock = threading.Lock()
        self._ways_lock = threading.Lock()
        self._moment_locks: dict[str, threading.Lock] = {}  # account → its Moments audience sync
        self._made: OrderedDict[str, frozenset[str]] = OrderedDict()  # msgid → keys it carries
        self._task_of: dict[str, str] = {}  # key → msgid of the task carrying it (from state `tasks`)
        self._pruned = 0.0  # when the state file's `tasks` were last pruned
        self._holds: dict[str, Hold] = {}  # "" (everyone) or an account → why nothing is sent
        self._blocks: dict[str, Block] = {}  # endpoint → its 45009 block
        self._asked: dict[str, tuple[float, float]] = {}  # ref → (next ask, interval)
        self._lock = threading.Lock()
        self._init_sync(opts)

    def __repr__(self) -> str:
        held = [name for name in ("secret", "callback_token", "callback_aes_key") if self.secrets.get(name)]
        return (
            f"WeComAdapter(corp_id={self.corp_id!r}, base_url={self.base_url!r}, quota={self.quota!r}, secrets={held})"
        )

    # ---- lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        self.state.load()
        self._index_tasks()
        try:
            self.client.token()  # the credentials and the corp id (the trusted IP list: on data calls only)
        except TransientError as exc:
            log.warning(t("WeCom cannot be reached yet: {reason}", reason=exc.reason))
        except WeComError as exc:
            if exc.errcode not in HOLD_ALL:
                raise adapter_error(exc.reason) from None
            self._hold("", exc, self.clock())  # held, not refused: callbacks still come in meanwhile
        except PermanentError as exc:
            raise adapter_error(exc.reason) from None

    def close(self) -> None:
        self.state.save()
        self.client.close()

    # ---- sending ---------------------------------------------------------------------------------
    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        if not batch:
            return []
        handlers = {"dm": self._send_dm, "group": self._send_group, "moment": self._send_moments,
                    "task": self._send_tasks, "tag": self._send_tags}  # fmt: skip
        out: dict[str, Result] = {}
        by_channel: dict[str, list[Delivery]] = defaultdict(list)
        for d in batch:
            held = self._held(d)
            if held is not None:  # a configuration error or a 45009 block: put off, no attempt used
                out[d.key] = held
            else:
                by_channel[d.channel].append(d)
        for channel, deliveries in by_channel.items():
            handler = handlers.get(channel)
            if handler is None:
                reason = t("the wecom adapter does not carry '{channel}' touches", channel=channel)
                out.update((d.key, Result(d.key, DEAD, reason)) for d in deliveries)
                continue
            for result in handler(deliveries):
                out[result.key] = result
        return [out[d.key] for d in batch]

    def _guarded(self, deliveries: Sequence[Delivery], work: Callable[[], list[Result]]) -> list[Result]:
        """`work`'s results, or every delivery's from the error (`_failed`); nothing is called
        once an earlier part of the same batch met a configuration error."""
        now = self.clock()
        with self._lock:
            holds = {d.key: self._holds.get("") or self._holds.get(d.account or "") for d in deliveries}
        if any(holds.values()):
            return [Result(d.key, LATER, h.alert, retry_after=max(1.0, h.next_probe - now)) if (h := holds[d.key])
                    else Result(d.key, LATER, retry_after=PROBE_EVERY) for d in deliveries]  # fmt: skip
        try:
            return work()
        except AdapterError as exc:
            return self._failed(exc, deliveries)

    def _failed(self, exc: AdapterError, deliveries: Sequence[Delivery]) -> list[Result]:
        """What a whole call's failure makes of its deliveries: a 45009 block or a configuration
        error puts them off (`later`, no attempt used: they go once WeCom lets them); other
        transient errors → failed (retried), permanent ones → dead."""
        now = self.clock()
        if isinstance(exc, RateLimited):
            block = self._rate_block(exc.endpoint, now)
            reason = t("WeCom blocked {endpoint} (45009, {kind}) until {until}", endpoint=exc.endpoint,
                       kind=_block_kind(block.kind), until=_clock_text(block.until))  # fmt: skip
            return [Result(d.key, LATER, reason, retry_after=max(1.0, block.until - now)) for d in deliveries]
        if isinstance(exc, WeComError) and exc.errcode in HOLD_ALL | HOLD_ACCOUNT:
            out: list[Result] = []
            for d in deliveries:
                scope = "" if exc.errcode in HOLD_ALL else (d.account or "")
                hold = self._hold(scope, exc, now)
                out.append(Result(d.key, LATER, hold.alert, retry_after=max(1.0, hold.next_probe - now)))
            return out
        if isinstance(exc, TransientError):
            return [Result(d.key, FAILED, exc.reason, retry_after=exc.retry_after) for d in deliveries]
        return [Result(d.key, DEAD, exc.reason) for d in deliveries]

    # ---- holds and blocks ------------------------------------------------------------------------
    def _held(self, d: Delivery) -> Result | None:
        """`later` for a delivery a hold or a 45009 block covers (a hold whose probe time has
        come is probed first: when the probe succeeds the delivery goes)."""
        now = self.clock()
        for scope in dict.fromkeys(("", d.account or "")):
            with self._lock:
                hold = self._holds.get(scope)
            if hold is None:
                continue
            if now >= hold.next_probe and self._probe_ok(scope, hold, now):
                continue
            return Result(d.key, LATER, hold.alert, retry_after=max(1.0, hold.next_probe - now))
        endpoint = ENDPOINTS.get(d.channel)
        with self._lock:
            block = self._blocks.get(endpoint or "")
        if block is not None and now < block.until:
            reason = t("WeCom blocked {endpoint} (45009, {kind}) until {until}", endpoint=endpoint,
                       kind=_block_kind(block.kind), until=_clock_text(block.until))  # fmt: skip
            return Result(d.key, LATER, reason, retry_after=max(1.0, block.until - now))
        return None

    def _rate_block(self, endpoint: str, now: float) -> Block:
        """45009 on `endpoint`: a minute block (until a minute from now); refused again within a
        minute after a minute block ended, it is an hour block — until an hour after the first
        refusal (90454: 按分钟拦截则被屏蔽60秒，按小时拦截则被屏蔽60分钟)."""
        with self._lock:
            prev = self._blocks.get(endpoint)
            if prev is not None and now < prev.until:
                return prev
            if prev is not None and prev.kind == "minute" and now < prev.until + MINUTE_BLOCK:
                block = Block(max(prev.first + HOUR_BLOCK, now + MINUTE_BLOCK), "hour", prev.first)
            else:
                block = Block(now + MINUTE_BLOCK, "minute", now)
            self._blocks[endpoint] = block
        log.warning(t("WeCom blocked {endpoint} (45009, {kind}) until {until}", endpoint=endpoint,
                      kind=_block_kind(block.kind), until=_clock_text(block.until)))  # fmt: skip
        return block

    def _hold(self, scope: str, exc: WeComError, now: float) -> Hold:
        """Start (or keep) the hold of `scope` for a configuration error; one alert when it starts."""
        with self._lock:
            hold = self._holds.get(scope)
            fresh = hold is None or hold.errcode != exc.errcode
            if fresh:
                hold = Hold(exc.errcode, _alert(exc, scope), now, now + PROBE_EVERY)
                self._holds[scope] = hold
            assert hold is not None
        if fresh:
            log.error(hold.alert)
        return hold

    def _probe(self, scope: str) -> None:
        """One cheap data call: the corp's tags (everyone), or the account's customers."""
        if not scope:
            self.client.post("externalcontact/get_corp_tag_list", {"tag_id": [], "group_id": []})
            return
        try:
            self.client.get("externalcontact/list", userid=scope)
        except WeComError as exc:
            if exc.errcode != 84061:  # no customers yet: the call itself went through
                raise

    def _probe_ok(self, scope: str, hold: Hold, now: float) -> bool:
        """Probe a held scope: True (and the hold lifted) when WeCom answers."""
        try:
            self._probe(scope)
        except WeComError as exc:
            if exc.errcode in HOLD_ALL | HOLD_ACCOUNT:
                with self._lock:
                    hold.next_probe = now + PROBE_EVERY
                    if exc.errcode != hold.errcode:
                        hold.errcode, hold.alert = exc.errcode, _alert(exc, scope)
                return False
        except TransientError:
            with self._lock:
                hold.next_probe = now + PROBE_EVERY
            return False
        with self._lock:
            self._holds.pop(scope, None)
        log.warning(t("WeCom answers again: sending resumed ({alert})", alert=hold.alert))
        return True

    def holds(self) -> list[Hold]:
        """The holds in force (for status lines and tests)."""
        with self._lock:
            return list(self._holds.values())

    def probe(self, accounts: Sequence[str]) -> list[str]:
        """The start-up check: one cheap data call for everyone and one per account, before
        anything is due. Problems found start holds (nothing is sent until they are fixed)
        and are returned as messages for the operator."""
        problems: list[str] = []
        now = self.clock()
        for scope in ["", *dict.fromkeys(a for a in accounts if a)]:
            try:
                self._probe(scope)
            except WeComError as exc:
                if exc.errcode in HOLD_ALL or exc.errcode in HOLD_ACCOUNT:
                    problems.append(self._hold("" if exc.errcode in HOLD_ALL else scope, exc, now).alert)
                    if exc.errcode in HOLD_ALL:
                        break
                else:
                    problems.append(t("WeCom account {account}: {reason}", account=scope, reason=exc.reason))
            except TransientError as exc:
                problems.append(t("WeCom cannot be reached yet: {reason}", reason=exc.reason))
                break
        return problems

    def _with_media(self, parts: Any, channel: str, call: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> dict:
        """`call(attachments)`; a media_id WeCom no longer knows (40007) is uploaded again, once."""
        try:
            return call(attachments(parts, channel, self.media))
        except WeComError as exc:
            if exc.errcode != 40007 or not parts:
                raise
            return call(attachments(parts, channel, self.media, fresh=True))

    # dm ------------------------------------------------------------------------------------------
    def _send_dm(self, batch: Sequence[Delivery]) -> list[Result]:
        out: list[Result] = []
        same: dict[tuple[str, str, str, str], list[Delivery]] = defaultdict(list)
        rest: list[Delivery] = []
        for d in batch:
            welcomed = self._welcome(d)
            if welcomed is not None:
                out.append(welcomed)
            else:
                rest.append(d)
        for d in rest:
            if not d.account or not d.contact:
                out.append(
                    Result(d.key, DEAD, t("a WeCom dm needs an account (userid) and a contact (external_userid)"))
                )
            else:
                same[(d.account, d.text, _canonical(d.parts), d.group or "")].append(d)
        for (account, text, _, group), deliveries in same.items():
            out += self._guarded(deliveries, lambda a=account, x=text, g=group, ds=deliveries: self._dm(a, x, g, ds))
        return out

    def _dm(self, account: str, text: str, group: str, deliveries: list[Delivery]) -> list[Result]:
        parts = deliveries[0].parts
        extra: list[dict[str, Any]] = []
        if group:  # an invitation: the instance's join way QR code, when the group has template chats
            # The group's name starts its instance id (a journey's `invite` has the journey as its flow).
            name = group.split("/", 1)[0]
            way = self._join_way(group, name, account)
            if way is not None:
                extra.append({"msgtype": "link", "link": {"title": name, "url": way["qr_code"]}})
        results, todo = self._found_earlier(account, "single", text, deliveries, lambda d: d.contact)
        for start in range(0, len(todo), MAX_RECIPIENTS):
            chunk = todo[start : start + MAX_RECIPIENTS]

            def create(found: list[dict[str, Any]], chunk: list[Delivery] = chunk) -> dict[str, Any]:
                body: dict[str, Any] = {"chat_type": "single", "external_userid": [d.contact for d in chunk],
                                        "sender": account}  # fmt: skip
                if text:
                    body["text"] = {"content": text}
                if found or extra:
                    body["attachments"] = [*found, *extra]
                return self._creating([d.key for d in chunk], account, "single", text,
                                      lambda: self.client.post("externalcontact/add_msg_template", body), _msgid)

            try:
                doc = self._with_media(parts, "dm", create)
            except AdapterError as exc:  # the chunks sent so far stay sent
                if isinstance(exc, WeComError) and exc.errcode == 41048:
                    reason = t("WeCom created no task: none of these customers is {account}'s customer (41048)",
                               account=account)  # fmt: skip
                    results += [Result(d.key, DEAD, reason) for d in chunk]
                    continue
                results += self._failed(exc, todo[start:])
                break
            results += self._created(doc, chunk, lambda d: d.contact, account)
        return results

    def _created(self, doc: Mapping[str, Any], chunk: Sequence[Delivery], target: Callable[[Delivery], Any],
                 account: str) -> list[Result]:  # fmt: skip
        msgid = str(doc.get("msgid") or "")
        failed = {str(f) for f in doc.get("fail_list") or []}
        reason = t("WeCom cannot send to this customer from {account} (fail_list: not their customer, or unknown)",
                   account=account)  # fmt: skip
        return [Result(d.key, DEAD, reason) if target(d) in failed else Result(d.key, SENT, ref=msgid) for d in chunk]

    # ---- the adapter's record of the tasks it creates (recovery without duplicates) ---------------
    def _index_tasks(self) -> None:
        """key → msgid from the state file's `tasks`, after pruning it (`_prune_tasks`)."""
        tasks = self.state.section("tasks")
        self._prune_tasks(self.clock())
        with self.state.lock:
            index = {key: ref for ref, entry in tasks.items() for key in entry.get("keys") or []}
        with self._lock:
            self._task_of = index
            for ref, entry in tasks.items():
                self._made[ref] = frozenset(entry.get("keys") or [])

    def _prune_tasks(self, now: float) -> None:
        """Forget tasks older than KEEP_TASKS and the keys of those older than KEEP_KEYS, so the
        state file stays small (it is rewritten on every task-creating call)."""
        tasks = self.state.section("tasks")
        with self.state.lock:
            for ref in [r for r, e in tasks.items() if not isinstance(e, dict) or e.get("at", 0) < now - KEEP_TASKS]:
                del tasks[ref]
            for entry in tasks.values():
                if entry.get("keys") and entry.get("at", 0) < now - KEEP_KEYS:
                    entry["keys"] = []
        with self._lock:
            self._pruned = now
            self._task_of = {k: ref for k, ref in self._task_of.items() if tasks.get(ref, {}).get("keys")}

    def _creating(self, keys: Sequence[str], account: str, chat_type: str, text: str,
                  call: Callable[[], dict[str, Any]], ref_of: Callable[[Mapping[str, Any]], str]) -> dict[str, Any]:  # fmt: skip
        """A task-creating call, recorded in the state file before it is made (`calls`) and its
        task as soon as the answer names it (`tasks`): a call whose answer was lost stays in
        `calls`, and its keys are looked for in WeCom before anything is sent for them again."""
        call_id = hashlib.sha1(f"{account}\n{chat_type}\n{keys[0] if keys else ''}\n{time.time_ns()}".encode()).hexdigest()[:16]
        calls, tasks = self.state.section("calls"), self.state.section("tasks")
        now = int(self.clock())
        with self.state.lock:
            calls[call_id] = {"keys": list(keys), "account": account, "chat_type": chat_type, "text": text, "at": now}
            self.state.save()
        try:
            doc = call()
        except AdapterError as exc:
            uncertain = isinstance(exc, TransientError) and not isinstance(exc, RateLimited)
            if not uncertain:  # WeCom answered: nothing was created
                with self.state.lock:
                    calls.pop(call_id, None)
                    self.state.save()
            raise
        ref = ref_of(doc)
        if now - self._pruned >= PRUNE_EVERY:
            self._prune_tasks(now)
        with self.state.lock:
            calls.pop(call_id, None)
            if ref:
                tasks[ref] = {"keys": list(keys), "account": account, "chat_type": chat_type, "at": now}
            self.state.save()
        if ref:
            self._remember(ref, keys)
        return doc

    def _remember(self, msgid: str, keys: Iterable[str]) -> None:
        keys = frozenset(keys)
        with self._lock:
            self._made[msgid] = keys
            for key in keys:
                self._task_of[key] = msgid
            while len(self._made) > MADE:
                self._made.popitem(last=False)

    def _uncertain(self) -> set[str]:
        """Keys of task-creating calls whose answer never came (this process or one before)."""
        calls = self.state.section("calls")
        with self.state.lock:
            return {key for entry in calls.values() if isinstance(entry, dict) for key in entry.get("keys") or []}

    def _settled_calls(self, keys: Iterable[str]) -> None:
        """Forget the in-flight records all of whose keys have been looked for (found or not)."""
        done = set(keys)
        calls = self.state.section("calls")
        with self.state.lock:
            gone = [c for c, e in calls.items() if not isinstance(e, dict) or set(e.get("keys") or []) <= done]
            for call_id in gone:
                del calls[call_id]
            if gone:
                self.state.save()

    def _found_earlier(self, account: str, chat_type: str, text: str, deliveries: list[Delivery],
                       target: Callable[[Delivery], Any]) -> tuple[list[Result], list[Delivery]]:  # fmt: skip
        """A delivery may already be in a task: one this adapter recorded (its answer came, the
        daemon did not settle it), or one whose answer was lost (a timeout, a 5xx after the
        work; a retry, or a call left in flight). Those are `sent` with that task's msgid; only
        the others go out."""
        with self._lock:
            recorded = {d.key: self._task_of[d.key] for d in deliveries if d.key in self._task_of}
        results = [Result(d.key, SENT, ref=recorded[d.key]) for d in deliveries if d.key in recorded]
        rest = [d for d in deliveries if d.key not in recorded]
        uncertain = self._uncertain()
        if not any(d.attempt > 1 or d.key in uncertain for d in rest):
            return results, rest
        found = self._tasks_with(account, chat_type, text, rest, target)
        self._settled_calls(d.key for d in rest)
        results += [Result(d.key, SENT, ref=found[d.key]) for d in rest if d.key in found]
        return results, [d for d in rest if d.key not in found]

    def _tasks_with(self, account: str, chat_type: str, text: str, deliveries: Sequence[Delivery],
                    target: Callable[[Delivery], Any]) -> dict[str, str]:  # fmt: skip
        """key → msgid for the deliveries already in one of `account`'s mass-message tasks.

        WeCom lists API-made tasks without a creator (96355: "API接口创建的群发消息不返回该字段"),
        so a `creator` filter finds none: the 企业发表 tasks (filter_type 0) of the window, from
        the earliest delivery's `at` (less LOOKBACK for clock skew), with the same text, are the
        candidates; a candidate is `account`'s when `get_groupmsg_task` lists it as a sender, and
        carries a delivery when `get_groupmsg_send_result` lists its customer (single tasks list
        the unsent ones too, status 0). A group task lists no chat before it is sent (不返回未发送
        记录): while the account's part is unsent (task status 0) the task counts as created for
        every delivery whose chats are not found elsewhere — a task that exists must not be made
        twice. Tasks this adapter recorded for other keys are passed over."""
        if not deliveries:
            return {}
        since = min(d.at for d in deliveries) - LOOKBACK
        end = min(since + 30 * 86400, int(self.clock()) + LOOKBACK)
        msgids: list[str] = []
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_groupmsg_list_v2", {
                "chat_type": chat_type, "start_time": int(since), "end_time": int(max(end, since)),
                "filter_type": 0, "limit": 100, "cursor": cursor})  # fmt: skip
            for task in doc.get("group_msg_list") or []:
                if ((task.get("text") or {}).get("content") or "") == text and task.get("msgid"):
                    msgids.append(str(task["msgid"]))
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                break
        wanted = {d.key: target(d) for d in deliveries}
        found: dict[str, str] = {}
        for msgid in msgids:
            with self._lock:
                known = self._made.get(msgid)
            keys = [k for k in wanted if k not in found and (known is None or k in known)]
            if not keys:
                continue
            status = self._staff_status(msgid, account)
            if status is None:
                continue  # another staff member's task
            targets = self._send_results(msgid, account)
            for key in keys:
                chats = wanted[key] if isinstance(wanted[key], list | tuple) else [wanted[key]]
                if any(c in targets for c in chats) or (chat_type == "group" and status == TASK_UNSENT):
                    found[key] = msgid
        return found

    def _staff_status(self, msgid: str, account: str) -> int | None:
        """`account`'s status in a task (get_groupmsg_task: 0 unsent, 2 sent), None when the
        account is not among its senders."""
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_groupmsg_task",
                                   {"msgid": msgid, "limit": 1000, "cursor": cursor})  # fmt: skip
            for row in doc.get("task_list") or []:
                if row.get("userid") == account:
                    return int(row.get("status") or 0)
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return None

    def _send_results(self, msgid: str, account: str) -> dict[str, tuple[int, int | None]]:
        """target (external_userid or chat_id) → (status, send_time) for `account`'s part of a task."""
        rows: dict[str, tuple[int, int | None]] = {}
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_groupmsg_send_result",
                                   {"msgid": msgid, "userid": account, "limit": 1000, "cursor": cursor})  # fmt: skip
            for row in doc.get("send_list") or []:
                target = row.get("external_userid") or row.get("chat_id")
                if target:
                    send_time = row.get("send_time")
                    rows[str(target)] = (int(row.get("status") or 0), int(send_time) if send_time else None)
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return rows

    # welcome messages -----------------------------------------------------------------------------
    def _keep_welcome_code(self, message: Mapping[str, Any]) -> None:
        """add_external_contact's WelcomeCode, kept for its 20 s in memory and the state file
        (never logged): the greeting of the journey entry this friend_added starts may use it."""
        code = str(message.get("WelcomeCode") or "").strip()
        contact = str(message.get("ExternalUserID") or "").strip()
        if not code or not contact or message.get("ChangeType") != "add_external_contact":
            return
        try:
            at = int(str(message.get("CreateTime") or "").strip())
        except ValueError:
            at = int(self.clock())
        now = self.clock()
        welcome = self.state.section("welcome")
        with self.state.lock:
            for key in [k for k, v in welcome.items() if not isinstance(v, dict) or v.get("until", 0) <= now]:
                del welcome[key]
            welcome[contact] = {"code": code, "account": str(message.get("UserID") or ""), "at": at,
                                "until": now + WELCOME_TTL}  # fmt: skip
            self.state.save()

    def _welcome_code(self, d: Delivery) -> str | None:
        """The live WelcomeCode for a dm, taken (single use): the code of this contact's
        friend_added with this account, still alive, when the dm falls due within the code's
        life after that event — the greeting of the journey entry the friend_added started."""
        if not d.contact or not d.account:
            return None
        welcome = self.state.section("welcome")
        now = self.clock()
        with self.state.lock:
            entry = welcome.get(d.contact)
            if not isinstance(entry, dict) or entry.get("account") != d.account:
                return None
            if now >= float(entry.get("until", 0)) - WELCOME_MARGIN:
                return None
            at = int(entry.get("at", 0))
            if not at <= d.due <= at + WELCOME_TTL:
                return None
            del welcome[d.contact]
            self.state.save()
            return str(entry.get("code") or "") or None

    def _welcome(self, d: Delivery) -> Result | None:
        """A dm sent as the new customer's welcome (send_welcome_msg: at once, no confirmation, no
        mass-message quota) when it may; None: it goes as a mass-message task. 41051 (already
        welcomed — by the admin's welcome or another app) is final: recorded, not retried;
        transient errors are retried within the 20 s; an expired code → a task as usual."""
        code = self._welcome_code(d)
        if code is None:
            return None
        for attempt in range(1, WELCOME_RETRIES + 1):
            try:
                body: dict[str, Any] = {"welcome_code": code}
                if d.text:
                    body["text"] = {"content": d.text}
                found = attachments(d.parts, "dm", self.media)
                if found:
                    body["attachments"] = found
                self.client.post("externalcontact/send_welcome_msg", body)
                return Result(d.key, SENT, ref=f"{WELCOME_REF}{int(self.clock())}")
            except WeComError as exc:
                if exc.errcode == 41051:
                    return Result(d.key, DEAD, t("already welcomed (41051): WeCom sent this customer another welcome "
                                                 "(the admin's, or another app's); not sent again"))  # fmt: skip
                if exc.errcode == 41096 and attempt < WELCOME_RETRIES:
                    time.sleep(min(1.0, WELCOME_TTL / 10))
                    continue
                log.info(t("the welcome to {contact} goes as a mass-message task: {reason}", contact=d.contact,
                           reason=exc.reason))  # fmt: skip
                return None
            except TransientError as exc:
                if attempt < WELCOME_RETRIES and not isinstance(exc, RateLimited):
                    time.sleep(min(1.0, WELCOME_TTL / 10))
                    continue
                log.info(t("the welcome to {contact} goes as a mass-message task: {reason}", contact=d.contact,
                           reason=exc.reason))  # fmt: skip
                return None
            except PermanentError as exc:  # the content cannot be carried (media)
                return Result(d.key, DEAD, exc.reason)
        return None

    # join ways and group posts --------------------------------------------------------------------
    def _template_chats(self, group: str, account: str | None) -> list[str]:
        chats = self.groups.get(group, {})
        return list(chats.get(account or "", chats.get("", [])))

    def _join_way(self, instance: str, group: str, account: str) -> dict[str, Any] | None:
        """The join way (QR code) of a short-term group instance: made once, with auto-created
        rooms named after the group, from the group's template chats; None without them."""
        with self._ways_lock:
            ways = self.state.section("join_ways")
            way = ways.get(instance)
            if isinstance(way, dict):
                return way
            chats = self._template_chats(group, account)
            if not chats:
                log.info(t("group '{group}' has no template chats (option groups): its invitations go without a "
                           "QR code", group=group))  # fmt: skip
                return None
            state = instance if len(instance) <= 30 else "pb" + hashlib.sha1(instance.encode()).hexdigest()[:28]
            doc = self.client.post("externalcontact/groupchat/add_join_way", {
                "scene": 2, "remark": instance[:30], "auto_create_room": 1, "room_base_name": group[:40],
                "chat_id_list": chats[:MAX_JOIN_CHATS], "state": state})  # fmt: skip
            config_id = str(doc.get("config_id") or "")
            got = self.client.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})
            join_way = got.get("join_way") or {}
            way = {"config_id": config_id, "qr_code": str(join_way.get("qr_code") or ""),
                   "chat_id_list": [str(c) for c in join_way.get("chat_id_list") or chats[:MAX_JOIN_CHATS]]}  # fmt: skip
            with self.state.lock:
                ways[instance] = way
                self.state.save()
            return way

    def _with_groups(self, events: Sequence[Any]) -> tuple[Any, ...]:
        """A member change in a chat one of our join ways leads to names that group instance
        (`group`): what standing groups count members by (docs/language.md §7.2). WeCom's
        callback names only the chat (ChatId); rooms WeCom made when a group was full
        (auto_create_room, https://developer.work.weixin.qq.com/document/path/92229) are
        found by reading the join ways again."""
        out = []
        for event in events:
            chat = event.data.get("chat_id") if event.type in ("joined_group", "left_group") else None
            instance = self._instance_of_chat(str(chat)) if chat else None
            out.append(replace(event, data={**event.data, "group": instance}) if instance else event)
            if instance:  # what the next sync compares with (_group_members)
                with self.state.lock:
                    members = self.state.section("group_members").setdefault(instance, {})
                    if event.type == "joined_group":
                        members[event.contact] = str(chat)
                    else:
                        members.pop(event.contact, None)
                    self.state.save()
        return tuple(out)

    def _instance_of_chat(self, chat: str) -> str | None:
        ways = self.state.section("join_ways")

        def find() -> str | None:
            with self.state.lock:
                return next((i for i, w in ways.items() if isinstance(w, dict) and chat in w.get("chat_id_list", ())),
                            None)  # fmt: skip

        found = find()
        if found is not None:
            return found
        with self._ways_lock:
            for instance, way in list(ways.items()):
                if not isinstance(way, dict) or not way.get("config_id"):
                    continue
                try:
                    got = self.client.post("externalcontact/groupchat/get_join_way", {"config_id": way["config_id"]})
                except WeComError as exc:
                    log.warning(t("the join way of {group} cannot be read: {reason}", group=instance, reason=exc.reason))
                    continue
                chats = [str(c) for c in (got.get("join_way") or {}).get("chat_id_list") or []]
                if chats and chats != way.get("chat_id_list"):
                    with self.state.lock:
                        ways[instance] = {**way, "chat_id_list": chats}
                        self.state.save()
        return find()

    def _instance_chats(self, d: Delivery) -> list[str]:
        """The chats a post to a group instance goes to: its join way's (as WeCom has them now,
        rooms created when full included), else the group's template chats."""
        way = self.state.section("join_ways").get(d.group or "")
        if isinstance(way, dict) and way.get("config_id"):
            try:
                got = self.client.post("externalcontact/groupchat/get_join_way", {"config_id": way["config_id"]})
                chats = [str(c) for c in (got.get("join_way") or {}).get("chat_id_list") or []]
                if chats:
                    return chats
            except WeComError as exc:
                log.warning(t("the join way of {group} cannot be read: {reason}", group=d.group, reason=exc.reason))
            return list(way.get("chat_id_list") or [])
        return self._template_chats(d.flow, d.account)

    def _send_group(self, batch: Sequence[Delivery]) -> list[Result]:
        out: list[Result] = []
        same: dict[tuple[str, str, str], list[Delivery]] = defaultdict(list)
        for d in batch:
            same[(d.account or "", d.text, _canonical(d.parts))].append(d)
        for (account, text, _), deliveries in same.items():
            out += self._guarded(deliveries, lambda a=account, x=text, ds=deliveries: self._group_post(a, x, ds))
        return out

    def _group_post(self, account: str, text: str, deliveries: list[Delivery]) -> list[Result]:
        chats_of = {d.key: self._instance_chats(d) for d in deliveries}
        results = [Result(d.key, DEAD, t("no WeCom chat is known for group {group}: give '{name}' template chats "
                                         "(option groups)", group=d.group, name=d.flow))
                   for d in deliveries if not chats_of[d.key]]  # fmt: skip
        known = [d for d in deliveries if chats_of[d.key]]
        if not known:
            return results
        earlier, known = self._found_earlier(account, "group", text, known, lambda d: chats_of[d.key])
        results += earlier
        chats = list(dict.fromkeys(c for d in known for c in chats_of[d.key]))
        if not known:
            return results
        msgids: list[str] = []
        failed: set[str] = set()
        for start in range(0, len(chats), MAX_CHATS):
            part = chats[start : start + MAX_CHATS]

            def create(found: list[dict[str, Any]], part: list[str] = part) -> dict[str, Any]:
                body: dict[str, Any] = {"chat_type": "group", "chat_id_list": part, "sender": account}
                if text:
                    body["text"] = {"content": text}
                if found:
                    body["attachments"] = found
                keys = [d.key for d in known if set(chats_of[d.key]) & set(part)]
                return self._creating(keys, account, "group", text,
                                      lambda: self.client.post("externalcontact/add_msg_template", body), _msgid)

            try:
                doc = self._with_media(known[0].parts, "group", create)
            except WeComError as exc:
                if exc.errcode != 41048:
                    raise
                failed.update(part)
                continue
            msgids.append(str(doc.get("msgid") or ""))
            failed.update(str(f) for f in doc.get("fail_list") or [])
        for d in known:
            if msgids and not set(chats_of[d.key]) <= failed:
                results.append(Result(d.key, SENT, ref=msgids[0]))
            else:
                results.append(Result(d.key, DEAD, t("WeCom cannot post to the chats of {group} as {account} (not "
                                                     "their owner?)", group=d.group, account=account)))  # fmt: skip
        return results

    # moments -------------------------------------------------------------------------------------
    def _send_moments(self, batch: Sequence[Delivery]) -> list[Result]:
        out: list[Result] = []
        for d in batch:
            out += self._guarded([d], lambda d=d: [self._moment(d)])
        return out

    def _moment(self, d: Delivery) -> Result:
        if not d.account:
            return Result(d.key, DEAD, t("a WeCom Moments post needs an account (userid)"))
        with self._lock:
            recorded = self._task_of.get(d.key)
        if recorded is not None:
            return Result(d.key, SENT, ref=recorded)
        if d.attempt > 1 or d.key in self._uncertain():
            found = self._moment_found(d)
            self._settled_calls([d.key])
            if found is not None:
                return Result(d.key, SENT, ref=found)
        with self._lock:
            account_lock = self._moment_locks.setdefault(d.account, threading.Lock())
        with account_lock:  # one audience tag sync at a time per account
            visible: dict[str, Any] = {"sender_list": {"user_list": [d.account]}}
            if d.audience is not None:
                tag_id = self._tag_id(moment_tag_name(d.flow, d.step, d.content), create=True)
                assert tag_id is not None
                self._sync_audience(d.account, tag_id, set(d.audience))
                visible["external_contact_list"] = {"tag_list": [tag_id]}

            def create(found: list[dict[str, Any]]) -> dict[str, Any]:
                body: dict[str, Any] = {"visible_range": visible}
                if d.text:
                    body["text"] = {"content": d.text}
                if found:
                    body["attachments"] = found
                return self._creating([d.key], d.account or "", "moment", d.text,
                                      lambda: self.client.post("externalcontact/add_moment_task", body), _moment_ref)

            doc = self._with_media(d.parts, "moment", create)
        return Result(d.key, SENT, ref=_moment_ref(doc))

    def _moment_found(self, d: Delivery) -> str | None:
        """A Moments task an earlier call made for this delivery (its answer lost): among the
        company's posts of the window (get_moment_list, filter_type 0 企业发表; API-made posts
        carry no creator, 93443/96352) with the same text, one this adapter has no record of
        whose senders (get_moment_task) include the account. Its ref: moment:id:<moment_id>."""
        since = d.at - LOOKBACK
        end = int(self.clock()) + LOOKBACK
        with self._lock:
            known = {ref for ref in self._made if ref.startswith("moment:")}
        moments = self.state.section("moments")
        with self.state.lock:
            known_ids = {str(e.get("moment_id")) for e in moments.values() if isinstance(e, dict)}
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_moment_list", {
                "start_time": int(since), "end_time": int(max(end, since)), "filter_type": 0, "limit": 20,
                "cursor": cursor})  # fmt: skip
            for post in doc.get("moment_list") or []:
                moment_id = str(post.get("moment_id") or "")
                same = ((post.get("text") or {}).get("content") or "") == (d.text or "")
                if not moment_id or not same or moment_id in known_ids or f"moment:id:{moment_id}" in known:
                    continue
                if self._published_by(moment_id, d.account or "") is not None:
                    ref = f"moment:id:{moment_id}"
                    with self.state.lock:
                        moments[f"id:{moment_id}"] = {"moment_id": moment_id, "at": int(self.clock())}
                        self.state.save()
                    self._remember(ref, [d.key])
                    return ref
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return None

    def _published_by(self, moment_id: str, account: str) -> int | None:
        """`account`'s publish_status for a company post (get_moment_task), None when not a sender."""
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_moment_task",
                                   {"moment_id": moment_id, "limit": 1000, "cursor": cursor})  # fmt: skip
            for row in doc.get("task_list") or []:
                if row.get("userid") == account:
                    return int(row.get("publish_status") or 0)
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return None

    def _sync_audience(self, account: str, tag_id: str, audience: set[str]) -> None:
        """Put the tag on the audience's customers that lack it and take it off the others
        (the adapter's memory of whom it tagged, in state_file): before the post is created."""
        tags = self.state.section("moment_tags")
        with self.state.lock:
            tagged = set(tags.get(account, {}).get(tag_id, []))
        try:
            for customer in sorted(audience - tagged):
                if self._mark(account, customer, add=[tag_id]):
                    tagged.add(customer)
            for customer in sorted(tagged - audience):
                self._mark(account, customer, remove=[tag_id])
                tagged.discard(customer)  # not their customer any more: nothing left to remove
        finally:
            with self.state.lock:
                tags.setdefault(account, {})[tag_id] = sorted(tagged)
                self.state.save()

    def _mark(self, account: str, customer: str, *, add: list[str] | None = None,
              remove: list[str] | None = None) -> bool:  # fmt: skip
        """mark_tag; False when the customer is not the staff member's (84061)."""
        body: dict[str, Any] = {"userid": account, "external_userid": customer}
        if add:
            body["add_tag"] = add
        if remove:
            body["remove_tag"] = remove
        try:
            self.client.post("externalcontact/mark_tag", body)
        except WeComError as exc:
            if exc.errcode != 84061:
                raise
            log.info(t("{customer} is not {account}'s customer in WeCom: not tagged", customer=customer,
                       account=account))  # fmt: skip
            return False
        return True

    # tags ----------------------------------------------------------------------------------------
    def _tag_id(self, name: str, *, create: bool) -> str | None:
        """The corp tag called `name` (looked up across the corp's tags, preferring `tag_group`;
        the cache is read again on a miss); created in `tag_group` when missing and `create`."""
        with self._tags_lock:
            if self._tags is None or name not in self._tags:
                self._tags = self._load_tags()
            if name in self._tags:
                return self._tags[name]
            if not create:
                return None
            if len(name) > MAX_TAG_NAME:
                raise PermanentError(t("WeCom tag names are at most 30 characters: '{name}'", name=name))
            doc = self.client.post(
                "externalcontact/add_corp_tag", {"group_name": self.tag_group, "tag": [{"name": name}]}
            )
            for tag in (doc.get("tag_group") or {}).get("tag") or []:
                if tag.get("name") == name and tag.get("id"):
                    self._tags[name] = str(tag["id"])
                    return self._tags[name]
            raise TransientError(t("WeCom's add_corp_tag answer does not list the tag '{name}'", name=name))

    def _load_tags(self) -> dict[str, str]:
        doc = self.client.post("externalcontact/get_corp_tag_list", {})
        found: dict[str, str] = {}
        for group in doc.get("tag_group") or []:
            if group.get("deleted"):
                continue
            mine = group.get("group_name") == self.tag_group
            for tag in group.get("tag") or []:
                name, tag_id = tag.get("name"), tag.get("id")
                if name and tag_id and not tag.get("deleted") and (mine or name not in found):
                    found[str(name)] = str(tag_id)
        return found

    def _send_tags(self, batch: Sequence[Delivery]) -> list[Result]:
        out: list[Result] = []
        for d in batch:
            out += self._guarded([d], lambda d=d: [self._tag(d)])
        return out

    def _tag(self, d: Delivery) -> Result:
        if d.content not in ("add", "remove") or not d.text or not d.account or not d.contact:
            return Result(d.key, DEAD, t("a tag touch needs add or remove, a tag, an account and a contact"))
        adding = d.content == "add"
        for attempt in (1, 2):
            tag_id = self._tag_id(d.text, create=adding)
            if tag_id is None:
                return Result(d.key, SENT)  # removing a tag WeCom does not have: nothing to do
            try:
                marked = self._mark(d.account, d.contact, add=[tag_id] if adding else None,
                                    remove=None if adding else [tag_id])  # fmt: skip
            except WeComError as exc:
                if exc.errcode != 40068 or attempt == 2:
                    raise
                with self._tags_lock:  # the tag was deleted in the admin console: look it up again
                    self._tags = None
                continue
            if not marked:
                return Result(d.key, DEAD, t("{contact} is not {account}'s customer in WeCom (84061)",
                                             contact=d.contact, account=d.account))  # fmt: skip
            return Result(d.key, SENT)
        raise AssertionError("unreachable")

    # tasks ---------------------------------------------------------------------------------------
    def _send_tasks(self, batch: Sequence[Delivery]) -> list[Result]:
        if self.agent_id is None:
            reason = t("staff tasks go out as app messages: set the wecom option agent_id")
            return [Result(d.key, DEAD, reason) for d in batch]
        out: list[Result] = []
        for d in batch:
            if not d.account:
                out.append(Result(d.key, DEAD, t("a staff task needs an account (userid)")))
                continue
            wait = self.throttle.take(d.account)
            if wait:  # WeCom would drop it silently: put it off, no attempt used
                out.append(Result(d.key, LATER, retry_after=wait))
                continue
            out += self._guarded([d], lambda d=d: [self._task(d)])
        return out

    def _task(self, d: Delivery) -> Result:
        doc = self.client.post("message/send", {
            "touser": d.account, "msgtype": "text", "agentid": self.agent_id, "text": {"content": d.text},
            "enable_duplicate_check": 1, "duplicate_check_interval": 1800})  # fmt: skip
        refused = {u for key in ("invaliduser", "unlicenseduser") for u in str(doc.get(key) or "").split("|") if u}
        if d.account in refused:
            return Result(d.key, DEAD, t("WeCom cannot deliver app messages to '{account}' (unknown, outside the "
                                         "app's visible range, or without a licence)", account=d.account))  # fmt: skip
        return Result(d.key, SENT)

    # ---- after a crash ---------------------------------------------------------------------------
    def reconcile(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """Touches a crash left `sending`: one in a task this adapter recorded → sent (its
        msgid); a dm or group post whose call may have reached WeCom (left in flight in the
        state file) → looked for in WeCom as after a lost answer: found → sent, else unknown;
        one no call was made for yet → failed (tried again: nothing can have gone out); a
        Moments post in flight → looked for with get_moment_list. A tag touch is marked again
        (marking twice changes nothing). Staff tasks (app messages) cannot be told: unknown."""
        out: list[Result] = []
        uncertain = self._uncertain()
        same: dict[tuple[str, str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            with self._lock:
                ref = self._task_of.get(d.key)
            if ref is not None:
                out.append(Result(d.key, SENT, ref=ref))
            elif d.channel == "tag":
                out.append(Result(d.key, FAILED, t("interrupted by a stop: marked again (no harm if it was done)")))
            elif d.channel in ("dm", "group", "moment") and d.account and d.key not in uncertain:
                out.append(Result(d.key, FAILED, t("interrupted by a stop before WeCom was called: sent again")))
            elif d.channel == "moment" and d.account:
                try:
                    found = self._moment_found(d)
                except AdapterError as exc:
                    log.warning(t("cannot ask WeCom about touches interrupted by a stop: {reason}", reason=exc.reason))
                    continue
                if found is not None:
                    out.append(Result(d.key, SENT, ref=found))
            elif d.channel in ("dm", "group") and d.account:
                same[(d.channel, d.account, d.text)].append(d)
        for (channel, account, text), group in same.items():
            try:
                if channel == "dm":
                    found = self._tasks_with(account, "single", text, group, lambda d: d.contact)
                else:
                    chats = {d.key: self._instance_chats(d) for d in group}
                    group = [d for d in group if chats[d.key]]
                    found = self._tasks_with(account, "group", text, group, lambda d, c=chats: c[d.key]) if group else {}
            except AdapterError as exc:
                log.warning(t("cannot ask WeCom about touches interrupted by a stop: {reason}", reason=exc.reason))
                continue
            out += [Result(d.key, SENT, ref=found[d.key]) for d in group if d.key in found]
        return out

    # ---- receipts --------------------------------------------------------------------------------
    def receipts(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """What staff members did with the tasks: one call per task and account (and page), not
        per delivery; a task still waiting is asked about again later, less and less often."""
        out: list[Receipt] = []
        same: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            if d.ref and d.ref.startswith(WELCOME_REF):  # sent at once, no staff confirmation
                out.append(Receipt(d.key, "confirmed", int(d.ref[8:] or 0) or None))
            elif d.ref and d.account:
                same[(d.ref, d.account)].append(d)
        now = self.clock()
        for (ref, account), group in same.items():
            ask = f"{ref}\n{account}"
            with self._lock:
                when, interval = self._asked.get(ask, (0.0, 0.0))
            if now < when:
                continue
            try:
                got = self._moment_receipts(ref[7:], account, group) if ref.startswith("moment:") else (
                    self._task_receipts(ref, account, group))  # fmt: skip
            except AdapterError as exc:
                log.warning(t("cannot read WeCom's results for {ref}: {reason}", ref=ref, reason=exc.reason))
                got = []
            out += got
            with self._lock:
                if len(got) == len(group):
                    self._asked.pop(ask, None)
                else:
                    interval = min(RECEIPT_MAX, max(RECEIPT_FIRST, interval * 2))
                    self._asked[ask] = (min(now + interval, max(now + 1, self._next_deadline(group, now))), interval)
        return out

    def _next_deadline(self, deliveries: Sequence[Delivery], now: float) -> float:
        """When an unconfirmed task is next to be reminded or cancelled (receipts ask then)."""
        first = min(d.at for d in deliveries)
        times = [first + self.confirm_within]
        if self.remind_after:
            times.append(first + self.remind_after)
        later = [t for t in times if t > now]
        return min(later) if later else now + RECEIPT_MAX

    def _task_receipts(self, msgid: str, account: str, deliveries: Sequence[Delivery]) -> list[Receipt]:
        """Each delivery's status in the task; a task nobody confirmed within `confirm_within`
        is cancelled (停止企业群发, 97611) and its waiting deliveries end `expired` — nothing goes
        out days late; `remind_after` it, the staff member is reminded once (提醒成员群发, 97610:
        at most three reminders a task in 24 hours)."""
        out = _read_receipts(self._send_results(msgid, account), deliveries)
        waiting = [d for d in deliveries if d.key not in {r.key for r in out}]
        if not waiting:
            return out
        now = self.clock()
        age = now - min(d.at for d in waiting)
        tasks = self.state.section("tasks")
        with self.state.lock:
            entry = tasks.get(msgid) if isinstance(tasks.get(msgid), dict) else None
        if age >= self.confirm_within:
            self.client.post("externalcontact/cancel_groupmsg_send", {"msgid": msgid})
            late = _read_receipts(self._send_results(msgid, account), waiting)  # confirmed meanwhile: it stands
            confirmed = {r.key for r in late}
            out += late + [Receipt(d.key, EXPIRED, int(now)) for d in waiting if d.key not in confirmed]
            log.warning(t("WeCom task {msgid} of {account} was not confirmed within {hours} h: cancelled, {n} "
                          "touches expired", msgid=msgid, account=account, hours=round(self.confirm_within / 3600, 1),
                          n=len(waiting) - len(confirmed)))  # fmt: skip
        elif self.remind_after and age >= self.remind_after and not (entry or {}).get("reminded"):
            try:
                self.client.post("externalcontact/remind_groupmsg_send", {"msgid": msgid})
            except WeComError as exc:
                log.info(t("cannot remind {account} of WeCom task {msgid}: {reason}", account=account, msgid=msgid,
                           reason=exc.reason))  # fmt: skip
            with self.state.lock:
                record = tasks.setdefault(msgid, {"keys": [], "account": account, "at": int(now)})
                record["reminded"] = int(now)
                self.state.save()
        return out

    def _moment_receipts(self, jobid: str, account: str, deliveries: Sequence[Delivery]) -> list[Receipt]:
        moments = self.state.section("moments")
        entry = moments.get(jobid)
        if not isinstance(entry, dict):
            doc = self.client.get("externalcontact/get_moment_task_result", jobid=jobid)
            if doc.get("status") != 3:
                return []  # the job is still running
            result = doc.get("result") or {}
            if result.get("errcode"):
                return [Receipt(d.key, "failed") for d in deliveries]
            if account in ((result.get("invalid_sender_list") or {}).get("user_list") or []):
                return [Receipt(d.key, "invalid_sender") for d in deliveries]
            entry = {"moment_id": str(result.get("moment_id") or ""), "at": int(self.clock())}
            with self.state.lock:  # a job is readable for 24 hours only: keep its moment_id
                moments[jobid] = entry
                self.state.save()
        published = self._moment_published(entry["moment_id"], account)
        if not published:
            now = self.clock()
            if now - min(d.at for d in deliveries) < self.confirm_within:
                return []
            # 停止发表企业朋友圈 (97612): stops what was not published; a post published meanwhile stands
            self.client.post("externalcontact/cancel_moment_task", {"moment_id": entry["moment_id"]})
            if not self._moment_published(entry["moment_id"], account):
                with self.state.lock:
                    moments.pop(jobid, None)
                    self.state.save()
                log.warning(t("WeCom Moments task {moment_id} of {account} was not published within {hours} h: "
                              "cancelled, {n} touches expired", moment_id=entry["moment_id"], account=account,
                              hours=round(self.confirm_within / 3600, 1), n=len(deliveries)))  # fmt: skip
                return [Receipt(d.key, EXPIRED, int(now)) for d in deliveries]
        with self.state.lock:
            moments.pop(jobid, None)
            self.state.save()
        # WeCom does not say when it was published: when it was first seen so (≤ one receipts round late)
        return [Receipt(d.key, "confirmed", int(self.clock())) for d in deliveries]

    def _moment_published(self, moment_id: str, account: str) -> bool:
        """Whether `account` published the company Moments post (get_moment_task: publish_status 1)."""
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_moment_task",
                                   {"moment_id": moment_id, "limit": 1000, "cursor": cursor})  # fmt: skip
            if any(r.get("userid") == account and r.get("publish_status") == 1 for r in doc.get("task_list") or []):
                return True
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return False

    # ---- contact sync (sync.py) --------------------------------------------------------------------
    def _init_sync(self, opts: Mapping[str, Any]) -> None:
        try:
            self.sync_every = sync_interval(opts.get("sync"))
        except ValueError as exc:
            raise adapter_error(str(exc)) from None
        personal = opts.get("personal_tags", False)
        if not isinstance(personal, bool):
            raise adapter_error(t("the wecom option 'personal_tags' is true or false"))
        self.syncer = WeComSync(self.client, moment_tags=self._moment_tag_ids, personal_tags=personal,
                                clock=self.clock)  # fmt: skip
        self._sync_next: float | None = 0.0 if self.sync_every else None  # the first one when the daemon starts
        self._reread: OrderedDict[str, None] = OrderedDict()  # customers a callback said changed
        self._sync_lock = threading.Lock()  # held briefly: the callback route takes it too
        self._sync_running = threading.Lock()  # one sync at a time (its calls may take minutes)
        self._reread_after = 0.0  # after a failed re-read: not before

    def _moment_tag_ids(self) -> set[str]:
        """The corp tags this adapter keeps for Moments audiences: not tags of the customers."""
        tags = self.state.section("moment_tags")
        with self.state.lock:
            return {tag_id for per_account in tags.values() if isinstance(per_account, dict) for tag_id in per_account}

    def _noticed(self, kind: str, message: Mapping[str, Any]) -> None:
        """A callback that changes what a sync reads, with `sync` set: a customer added or edited
        (remark or corp tags, 92130) is read again at the next turn; a corp tag renamed or
        deleted (change_external_tag update/delete) changes every customer carrying it, so a
        full sync comes at the next turn. Nothing is called from here (WeCom waits 5 s)."""
        if self._sync_next is None:
            return
        customer = str(message.get("ExternalUserID") or "").strip()
        with self._sync_lock:
            if kind in ("change_external_contact/add_external_contact",
                        "change_external_contact/edit_external_contact") and customer:  # fmt: skip
                self._reread[customer] = None
            elif kind in ("change_external_tag/update", "change_external_tag/delete"):
                self._sync_next = 0.0
        if kind.startswith("change_external_tag/"):
            with self._tags_lock:
                self._tags = None  # the adapter's own name → id cache

    def _add_staff_sends(self, found: Synced, now: float) -> None:
        """The messages staff sent themselves this quota period (个人发表: they spend the
        customers' quota, 92135) into `found.spent`, each customer of each task once (the
        adapter's state remembers what it reported). A failure here is a problem, not a failed sync."""
        since = quota_period_start(self.quota, now)
        sends = self.state.section("staff_sends")
        with self.state.lock:
            counted = {msgid: list(entry.get("customers") or []) for msgid, entry in sends.items()
                       if isinstance(entry, dict)}  # fmt: skip
        try:
            new = self.syncer.staff_sends(since, int(now), counted)
        except AdapterError as exc:
            found.problems.append(t("cannot read the mass messages staff sent themselves: {reason}", reason=exc.reason))
            return
        finally:
            for endpoint, n in self.syncer.taken().items():
                found.calls[endpoint] = found.calls.get(endpoint, 0) + n
        with self.state.lock:
            for msgid, rows in new.items():
                entry = sends.setdefault(msgid, {"at": int(now), "customers": []})
                entry["customers"] = sorted({*entry["customers"], *(c for c, _ in rows)})
                found.spent += [("dm", customer, at) for customer, at in rows]
            for msgid in [m for m, e in sends.items() if not isinstance(e, dict) or e.get("at", 0) < now - 40 * 86400]:
                del sends[msgid]  # older than any quota period
            self.state.save()

    def _group_members(self, found: Synced, now: int) -> None:
        """Who is in each group instance's chats, as WeCom lists them (获取客户群详情,
        https://developer.work.weixin.qq.com/document/path/96338: member_list, type 2 = a
        customer), compared with what the adapter last knew (state `group_members`): a
        `joined_group`/`left_group` event (by = "sync") for each difference, for the members
        a missed or member-less callback left out. A chat that cannot be read is a problem."""
        ways = self.state.section("join_ways")
        with self.state.lock:
            instances = {i: w for i, w in ways.items() if isinstance(w, dict) and w.get("config_id")}
        if not instances:
            return
        known = self.state.section("group_members")
        calls: dict[str, int] = defaultdict(int)
        for instance, way in sorted(instances.items()):
            try:
                got = self.client.post("externalcontact/groupchat/get_join_way", {"config_id": way["config_id"]})
                calls["externalcontact/groupchat/get_join_way"] += 1
                chats = [str(c) for c in (got.get("join_way") or {}).get("chat_id_list") or []] or list(
                    way.get("chat_id_list") or [])
                members: dict[str, str] = {}  # customer → chat
                for chat in chats:
                    doc = self.client.post("externalcontact/groupchat/get", {"chat_id": chat})
                    calls["externalcontact/groupchat/get"] += 1
                    for m in (doc.get("group_chat") or {}).get("member_list") or []:
                        if m.get("type") == 2 and m.get("userid"):
                            members.setdefault(str(m["userid"]), chat)
            except WeComError as exc:
                found.problems.append(t("cannot read who is in group {group}: {reason}", group=instance,
                                        reason=exc.reason))  # fmt: skip
                continue
            with self.state.lock:
                before = dict(known.get(instance) or {})
                for customer in sorted(members.keys() - before.keys()):
                    found.events.append(Event("joined_group", customer, now,
                                              {"group": instance, "chat_id": members[customer], "by": "sync"}))  # fmt: skip
                for customer in sorted(before.keys() - members.keys()):
                    found.events.append(Event("left_group", customer, now,
                                              {"group": instance, "chat_id": before[customer], "by": "sync"}))  # fmt: skip
                known[instance] = members
        with self.state.lock:
            self.state.save()
        for endpoint, n in calls.items():
            found.calls[endpoint] = found.calls.get(endpoint, 0) + n

    def sync_due(self, now: float) -> bool:
        with self._sync_lock:
            if self._sync_next is None:
                return False
            return now >= self._sync_next or (bool(self._reread) and now >= self._reread_after)

    def sync(self, known: Mapping[str, str | None], now: float, *, full: bool = False,
             quota: bool = False) -> Synced:  # fmt: skip
        """Everything (`full`, or the schedule came), else the customers callbacks named. The
        calls run outside `_sync_lock`, so a callback arriving meanwhile is never kept waiting."""
        with self._sync_running:
            with self._sync_lock:
                whole = full or (self._sync_next is not None and now >= self._sync_next)
                todo = list(self._reread)
                if whole:
                    self._reread.clear()  # read with everything else
            if whole:
                try:
                    found = self.syncer.full(known)
                except AdapterError:
                    with self._sync_lock:
                        self._reread.update(dict.fromkeys(todo))
                        if self._sync_next is not None:
                            self._sync_next = now + min(SYNC_RETRY, self.sync_every or SYNC_RETRY)
                    raise
                with self._sync_lock:
                    if self.sync_every:
                        self._sync_next = now + self.sync_every
                if quota:
                    self._add_staff_sends(found, now)
                self._group_members(found, int(now))
                return found
            out = Synced()
            for customer in todo:
                try:
                    one = self.syncer.one(customer, known)
                except AdapterError:
                    with self._sync_lock:  # this one and the rest: later
                        self._reread_after = now + REREAD_RETRY
                    raise
                with self._sync_lock:
                    self._reread.pop(customer, None)
                out.contacts += one.contacts
                out.gone += one.gone
                for endpoint, n in one.calls.items():
                    out.calls[endpoint] = out.calls.get(endpoint, 0) + n
            return out

    # ---- callbacks -------------------------------------------------------------------------------
    def callbacks(self, deliver: EventSink) -> Mapping[str, CallbackRoute]:
        """`/wecom/callback`: WeCom's URL verification (GET) and its customer-contact events (POST),
        when callback_token and callback_aes_key are set."""
        token, key = self._callback_token, self._callback_key
        if not token or not key:
            return {}
        seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        lock = threading.Lock()
        corp_id = self.corp_id

        def route(request: HttpRequest) -> HttpResponse:
            q = request.query
            signed = (q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""))
            try:
                if request.method == "GET":
                    plain = crypto.verify_url(token, key, corp_id, *signed, q.get("echostr", ""))
                    return HttpResponse(200, plain.encode("utf-8"))
                message = crypto.open_message(token, key, corp_id, *signed, request.body)
            except crypto.CryptoError:
                return HttpResponse(403)  # no detail for whoever sent it
            # WeCom retries a callback it got no answer to within 5 s: the same message again
            ident = (str(message.get("FromUserName") or ""), str(message.get("CreateTime") or ""),
                     hashlib.sha256(json.dumps(message, sort_keys=True, ensure_ascii=False).encode()).hexdigest())  # fmt: skip
            with lock:
                if ident in seen:
                    return HttpResponse(200)
            translation = translate(message)
            self._keep_welcome_code(message)  # before the events: the daemon may dispatch at once
            self._noticed(translation.kind, message)  # customers to read again (sync)
            if translation.events:
                # stored before the answer: an acknowledged event is never lost
                deliver(self._with_groups(translation.events))
            elif translation.reason:
                log.debug("WeCom callback %s: %s", translation.kind, translation.reason)
            with lock:
                seen[ident] = None
                while len(seen) > SEEN_CALLBACKS:
                    seen.popitem(last=False)
            return HttpResponse(200)

        return {CALLBACK_PATH: route}


def quota_period_start(mode: str, now: float) -> int:
    """The start of WeCom's quota period (China time) that `now` is in: the month, ISO week or day."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    day = datetime.fromtimestamp(now, ZoneInfo(WECOM_TIMEZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    if mode == "month":
        day = day.replace(day=1)
    elif mode == "week":
        day -= timedelta(days=day.weekday())
    return int(day.timestamp())


def _read_receipts(rows: Mapping[str, tuple[int, int | None]], deliveries: Sequence[Delivery]) -> list[Receipt]:
    """Receipts for the deliveries whose status in a task is final (1, 2, 3)."""
    out: list[Receipt] = []
    for d in deliveries:
        if d.channel == "dm":
            status, at = rows.get(d.contact or "", (0, None))
        else:  # a group post: confirmed when one of its chats got it
            status, at = _group_status(list(rows.values()))
        if status in STATUSES:
            out.append(Receipt(d.key, STATUSES[status], at if status == 1 else None))
    return out


def _msgid(doc: Mapping[str, Any]) -> str:
    return str(doc.get("msgid") or "")


def _moment_ref(doc: Mapping[str, Any]) -> str:
    return f"moment:{doc.get('jobid') or ''}"


def _block_kind(kind: str) -> str:
    return t("an hour block") if kind == "hour" else t("a minute block")


def _clock_text(at: float) -> str:
    """An instant for operators (UTC, to the second)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _alert(exc: WeComError, scope: str) -> str:
    """The one alert of a hold: what WeCom refused, and what to do (status shows it)."""
    import re

    if exc.errcode == 60020:
        ip = re.search(r"from ip:\s*([0-9a-fA-F.:]+)", exc.errmsg)
        return t("WeCom blocked: trusted IP (60020) — add this server's IP {ip} to the app's 企业可信IP; touches are "
                 "held and go out once WeCom answers", ip=ip.group(1) if ip else "?")  # fmt: skip
    if exc.errcode == 48002:
        return t("WeCom blocked: API not allowed for this app (48002) — configure it under 客户联系 → 可调用接口的应用; "
                 "touches are held and go out once WeCom answers")  # fmt: skip
    if exc.errcode in (40001, 41004):
        return t("WeCom blocked: wrong secret ({errcode}) — set the app's current secret; touches are held",
                 errcode=exc.errcode)  # fmt: skip
    if exc.errcode == 40013:
        return t("WeCom blocked: wrong corp id (40013) — check corp_id; touches are held")
    if scope:
        return t("WeCom blocked for {account}: {reason} — touches of this account are held", account=scope,
                 reason=exc.reason)  # fmt: skip
    return t("WeCom blocked: {reason} — touches are held", reason=exc.reason)


def _group_status(rows: list[tuple[int, int | None]]) -> tuple[int, int | None]:
    """A post to several chats: sent (1) at the first send_time when any chat got it; else,
    once every chat has a status, the first one's; else 0 (nothing yet)."""
    times = [at or 0 for status, at in rows if status == 1]
    if times:
        return 1, min(times)
    if rows and all(status != 0 for status, _ in rows):
        return rows[0][0], None
    return 0, None


def _canonical(parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, ensure_ascii=False) if parts else ""


def _agent_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise adapter_error(t("the wecom option 'agent_id' must be the app's AgentId (a number)"))
    return int(value)


def _positive(value: Any, option: str, *, whole: bool, most: float | None = None) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0 and value == value
    if ok and whole and value != int(value):
        ok = False
    if not ok:
        kind = t("a positive whole number") if whole else t("a positive number")
        raise adapter_error(t("the wecom option '{option}' must be {kind}", option=option, kind=kind))
    if most is not None and value > most:
        raise adapter_error(t("the wecom option '{option}' must be at most {most}: WeCom drops app messages beyond it",
                              option=option, most=int(most)))  # fmt: skip
    return float(value)


def _groups(value: Any) -> dict[str, dict[str, list[str]]]:
    """The `groups` option: playbook group name → the WeCom chat ids its join way starts from,
    either one list (for every account) or a table account → list (a staff member can post
    only to chats they own, so each account usually has its own)."""
    if not isinstance(value, Mapping):
        raise adapter_error(t("the wecom option 'groups' is a table: group name = [chat ids]"))
    out: dict[str, dict[str, list[str]]] = {}
    for name, chats in value.items():
        per_account = chats if isinstance(chats, Mapping) else {"": chats}
        out[str(name)] = {}
        for account, ids in per_account.items():
            if isinstance(ids, str):
                ids = [ids]
            if not isinstance(ids, list) or not ids or not all(isinstance(c, str) and c.strip() for c in ids):
                raise adapter_error(t("the wecom option groups.{name} must be a list of WeCom chat ids", name=name))
            out[str(name)][str(account)] = list(ids)
    return out
