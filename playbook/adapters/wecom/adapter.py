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
from dataclasses import replace
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
from playbook.adapters.capabilities import BUILTIN, Capabilities, wecom_limits
from playbook.adapters.registry import adapter_error, check_options, require_option
from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.callbacks import translate
from playbook.adapters.wecom.client import WeComClient, WeComError
from playbook.adapters.wecom.media import Media, attachments
from playbook.adapters.wecom.state import AdapterState
from playbook.adapters.wecom.sync import WeComSync, sync_interval
from playbook.i18n import t

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
           "app_messages_per_minute", "app_messages_per_hour", "groups", "state_file")  # fmt: skip
OPTIONS += ("sync", "personal_tags")  # contact sync (sync.py)
SYNC_RETRY = 600.0  # seconds before a failed scheduled sync is tried again
REREAD_RETRY = 60.0  # seconds before customers a callback named are read again after a failure
STATUSES = {1: "confirmed", 2: "not_friend", 3: "quota"}  # get_groupmsg_send_result's status


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
        try:
            self.client.token()  # the credentials, the corp id and the trusted IP list, checked now
        except TransientError as exc:
            log.warning(t("WeCom cannot be reached yet: {reason}", reason=exc.reason))
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
        """`work`'s results, or every delivery failed (transient) or dead (permanent) with the reason."""
        try:
            return work()
        except TransientError as exc:
            return [Result(d.key, FAILED, exc.reason, retry_after=exc.retry_after) for d in deliveries]
        except PermanentError as exc:
            return [Result(d.key, DEAD, exc.reason) for d in deliveries]

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
        for d in batch:
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
            way = self._join_way(group, deliveries[0].flow, account)
            if way is not None:
                extra.append({"msgtype": "link", "link": {"title": deliveries[0].flow, "url": way["qr_code"]}})
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
                return self.client.post("externalcontact/add_msg_template", body)

            try:
                doc = self._with_media(parts, "dm", create)
            except AdapterError as exc:  # the chunks sent so far stay sent
                if isinstance(exc, WeComError) and exc.errcode == 41048:
                    reason = t("WeCom created no task: none of these customers is {account}'s customer (41048)",
                               account=account)  # fmt: skip
                    results += [Result(d.key, DEAD, reason) for d in chunk]
                    continue
                state = FAILED if isinstance(exc, TransientError) else DEAD
                rest = todo[start:]
                results += [Result(d.key, state, exc.reason, retry_after=exc.retry_after) for d in rest]
                break
            results += self._created(doc, chunk, lambda d: d.contact, account)
        return results

    def _created(self, doc: Mapping[str, Any], chunk: Sequence[Delivery], target: Callable[[Delivery], Any],
                 account: str) -> list[Result]:  # fmt: skip
        msgid = str(doc.get("msgid") or "")
        failed = {str(f) for f in doc.get("fail_list") or []}
        self._remember(msgid, [d.key for d in chunk])
        reason = t("WeCom cannot send to this customer from {account} (fail_list: not their customer, or unknown)",
                   account=account)  # fmt: skip
        return [Result(d.key, DEAD, reason) if target(d) in failed else Result(d.key, SENT, ref=msgid) for d in chunk]

    def _remember(self, msgid: str, keys: Iterable[str]) -> None:
        with self._lock:
            self._made[msgid] = frozenset(keys)
            while len(self._made) > MADE:
                self._made.popitem(last=False)

    def _found_earlier(self, account: str, chat_type: str, text: str, deliveries: list[Delivery],
                       target: Callable[[Delivery], Any]) -> tuple[list[Result], list[Delivery]]:  # fmt: skip
        """A retried delivery may have been sent by the attempt whose answer was lost (a timeout, a
        5xx after the work): those found in the account's tasks are `sent`; the others go out."""
        if all(d.attempt <= 1 for d in deliveries):
            return [], list(deliveries)
        found = self._tasks_with(account, chat_type, text, deliveries, target)
        results = [Result(d.key, SENT, ref=found[d.key]) for d in deliveries if d.key in found]
        return results, [d for d in deliveries if d.key not in found]

    def _tasks_with(self, account: str, chat_type: str, text: str, deliveries: Sequence[Delivery],
                    target: Callable[[Delivery], Any]) -> dict[str, str]:  # fmt: skip
        """key → msgid for the deliveries whose target is in one of `account`'s mass-message
        tasks with this text, created since the earliest delivery's `at` (get_groupmsg_list_v2,
        then get_groupmsg_send_result). Tasks this process made for other keys are passed over."""
        since = min(d.at for d in deliveries) - LOOKBACK
        end = min(since + 30 * 86400, int(self.clock()) + LOOKBACK)
        msgids: list[str] = []
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_groupmsg_list_v2", {
                "chat_type": chat_type, "start_time": int(since), "end_time": int(max(end, since)), "creator": account,
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
            targets = self._send_results(msgid, account)
            for key in keys:
                if wanted[key] in targets:
                    found[key] = msgid
        return found

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
        if any(d.attempt > 1 for d in known):
            found = self._tasks_with(account, "group", text, known, lambda d: chats_of[d.key][0])
            results += [Result(d.key, SENT, ref=found[d.key]) for d in known if d.key in found]
            known = [d for d in known if d.key not in found]
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
                return self.client.post("externalcontact/add_msg_template", body)

            try:
                doc = self._with_media(known[0].parts, "group", create)
            except WeComError as exc:
                if exc.errcode != 41048:
                    raise
                failed.update(part)
                continue
            msgids.append(str(doc.get("msgid") or ""))
            failed.update(str(f) for f in doc.get("fail_list") or [])
        for msgid in msgids:
            self._remember(msgid, [d.key for d in known])
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
                return self.client.post("externalcontact/add_moment_task", body)

            doc = self._with_media(d.parts, "moment", create)
        jobid = str(doc.get("jobid") or "")
        return Result(d.key, SENT, ref=f"moment:{jobid}")

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
        """dm and group posts left `sending`: found in the account's mass-message tasks → sent
        (with the msgid); the rest are not returned (unknown). A tag touch is done again
        (marking a tag twice changes nothing). Moments and staff tasks cannot be told: unknown."""
        out: list[Result] = []
        same: dict[tuple[str, str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            if d.channel in ("dm", "group") and d.account:
                same[(d.channel, d.account, d.text)].append(d)
            elif d.channel == "tag":
                out.append(Result(d.key, FAILED, t("interrupted by a stop: marked again (no harm if it was done)")))
        for (channel, account, text), group in same.items():
            try:
                if channel == "dm":
                    found = self._tasks_with(account, "single", text, group, lambda d: d.contact)
                else:
                    chats = {d.key: self._instance_chats(d) for d in group}
                    group = [d for d in group if chats[d.key]]
                    found = (
                        self._tasks_with(account, "group", text, group, lambda d, c=chats: c[d.key][0]) if group else {}
                    )
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
            if d.ref and d.account:
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
                    self._asked[ask] = (now + interval, interval)
        return out

    def _task_receipts(self, msgid: str, account: str, deliveries: Sequence[Delivery]) -> list[Receipt]:
        rows = self._send_results(msgid, account)
        out: list[Receipt] = []
        for d in deliveries:
            if d.channel == "dm":
                status, at = rows.get(d.contact or "", (0, None))
            else:  # a group post: confirmed when one of its chats got it
                status, at = _group_status(list(rows.values()))
            if status in STATUSES:
                out.append(Receipt(d.key, STATUSES[status], at if status == 1 else None))
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
        published = False
        cursor = ""
        while True:
            doc = self.client.post("externalcontact/get_moment_task",
                                   {"moment_id": entry["moment_id"], "limit": 1000, "cursor": cursor})  # fmt: skip
            published |= any(r.get("userid") == account and r.get("publish_status") == 1
                             for r in doc.get("task_list") or [])  # fmt: skip
            cursor = str(doc.get("next_cursor") or "")
            if published or not cursor:
                break
        if not published:
            return []
        with self.state.lock:
            moments.pop(jobid, None)
            self.state.save()
        # WeCom does not say when it was published: when it was first seen so (≤ one receipts round late)
        return [Receipt(d.key, "confirmed", int(self.clock())) for d in deliveries]

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
            self._noticed(translation.kind, message)  # customers to read again (sync)
            if translation.events:
                deliver(translation.events)  # stored before the answer: an acknowledged event is never lost
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

    day = datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0, microsecond=0)
    if mode == "month":
        day = day.replace(day=1)
    elif mode == "week":
        day -= timedelta(days=day.weekday())
    return int(day.timestamp())


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
