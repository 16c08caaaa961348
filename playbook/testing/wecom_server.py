"""A WeCom-compatible HTTP server on 127.0.0.1, for testing the WeCom adapter end to end.

    server = WeComServer(corp_id="wwcorp", secret="s3cret", agent_id=1000002)
    server.start()                 # a ThreadingHTTPServer in a background thread
    base = server.url              # "http://127.0.0.1:PORT": the adapter's base URL
    ...
    server.confirm(msgid, "zhangsan")   # the staff member confirms the mass message
    server.stop()

It answers the documented requests of WeCom's server API (paths under ``/cgi-bin/``) with the
documented field names and error codes; docs/adapters/wecom.md lists the pages it follows
and the choices made where they say nothing. What it keeps:

* access tokens (``gettoken``: 7200 s; `expire_tokens` → 42001, `invalidate_tokens` → 40014,
  a missing token → 41001), checked on every call;
* mass-message tasks (``add_msg_template``): at most 10,000 external_userid per call; the
  staff member confirms later (`confirm`, or `auto_confirm` seconds after creation), and
  only then is each customer's status decided: 1 sent, 2 not a friend, 3 over the monthly
  quota (days-in-month messages a customer or group may receive from the whole company;
  `quota="week"` for 7 a week, `"day"` for 1 a day, as the admin may choose);
* customer Moments tasks (``add_moment_task`` → jobid, ``get_moment_task_result``; each sender
  publishes later — `confirm_moment`, or `auto_confirm` — as ``get_moment_task`` reports), corp tags
  (``get_corp_tag_list``, ``add_corp_tag``, ``del_corp_tag``, ``mark_tag``), group join ways
  (a customer scanning one: `scan_join_way`, into the first chat with room or a room made by
  ``auto_create_room``, 500 a chat — 92229, 98429),
  app messages to staff (``message/send``: beyond 30 a minute / 1,000 an hour per staff member
  they are silently dropped, the answer is still ok) and temporary media (``media/upload``,
  ``media/upload_attachment``: media_id valid 3 days);
* rate limits per endpoint (45009; the documented 10,000/min and 150,000/h unless set lower),
  and injected faults: `fail_next` (an errcode, n times), `fail_http` (5xx), `slow` (an answer
  that comes late, after or before the work is done);
* a log of every call (`calls`): endpoint, method, query, body, time, errcode.

Time comes from `clock` (default `time.time`), so a test can run simulated days: quotas,
token expiry, media lifetime, auto-confirmation and send_time all follow it. Friendships are
learnt from the calls unless `strict=True` (then `add_customer`/`add_staff` declare them and
anything else is refused as WeCom would). `send_callback` encrypts an event and POSTs it the
way WeCom calls a callback URL; `verify_callback_url` performs the URL handshake.

Where our first reading of the documents was wrong, the server follows the pages (each cited
at the behaviour):

* tasks created through the API carry no `creator` in `get_groupmsg_list_v2`, and a `creator`
  filter never matches them (96355/93338: "API接口创建的群发消息不返回该字段");
* `get_groupmsg_send_result` for a group task leaves out the chats not sent to yet (96355:
  "不返回未发送记录");
* the trusted IP list is checked on data calls only: `distrust_ip()` makes every call but
  ``gettoken`` answer 60020 (a token is still issued); `forbid()` → 48002 (API not allowed);
* 45009 blocks: a minute block lasts 60 s, an hour block 60 minutes (90454: "按分钟拦截则被屏蔽
  60秒,按小时拦截则被屏蔽60分钟"); `block(endpoint, "minute" | "hour")` starts one;
* a Moments link needs its cover's media_id (95094/96351: link.media_id 必填);
* friendships are strict by default: only `add_customer`, `add_external_contact` and
  `add_staff` make them (`strict=False` learns them from calls, for older tests);
* `add_external_contact` returns the callback's WelcomeCode: valid 20 s, single use;
  `send_welcome_msg` answers 41051 once a welcome was sent (92137/92599).
"""

from __future__ import annotations

import calendar
import email.parser
import email.policy
import hashlib
import json
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx

from playbook.adapters.capabilities import WECOM_TIMEZONE
from playbook.adapters.wecom import crypto
from playbook.testing.wecom_api import (
    API_FORBIDDEN,
    CONTENT_TOO_LONG,
    EMPTY_CONTENT,
    EMPTY_MEDIA,
    EMPTY_PARAMETER,
    ERRMSG,
    INVALID_AGENTID,
    INVALID_ATTACHMENT_TYPE,
    INVALID_CHAT_TYPE,
    INVALID_CONFIG_ID,
    INVALID_CORPID,
    INVALID_FILE_SIZE,
    INVALID_IMAGE_SIZE,
    INVALID_MEDIA_ID,
    INVALID_MSGID,
    INVALID_MSGTYPE,
    INVALID_PARAMETER,
    INVALID_SCENE,
    INVALID_SECRET,
    INVALID_TAG_ID,
    INVALID_TOKEN,
    INVALID_TYPE,
    INVALID_USER_LIST_SIZE,
    INVALID_USERID,
    INVALID_VIDEO_SIZE,
    IP_NOT_TRUSTED,
    JOBID_NOT_FOUND,
    MISSING_CORPID,
    MISSING_EXTERNAL_USERID,
    MISSING_MSGID,
    MISSING_SECRET,
    MISSING_TOKEN,
    MISSING_USERID,
    NO_CUSTOMER,
    NO_RECIPIENT,
    NO_RELATION,
    NOT_A_CUSTOMER_GROUP,
    NOT_FRIEND,
    OK,
    OVER_QUOTA,
    RATE_LIMITED,
    SENT,
    TASK_SENT,
    TASK_UNSENT,
    TOKEN_EXPIRED,
    TOO_MANY_TAGS,
    UNSENT,
    WELCOME_SENT,
    ApiError,
    MsgTask,
    StaffTask,
    cursor_of,
    strings_of,
)
from playbook.testing.wecom_directory import ROUTES as DIRECTORY_ROUTES
from playbook.testing.wecom_directory import Directory

CHINA = ZoneInfo(WECOM_TIMEZONE)  # WeCom's days, weeks and months (the quota periods)
TOKEN_TTL = 7200
MEDIA_TTL = 3 * 86400
MOMENT_JOB_TTL = 86400
MAX_RECIPIENTS = 10_000
MAX_CHATS = 2000
CHAT_MEMBERS_MAX = 500  # a customer group ("外部群最多 500 人": developer.work.weixin.qq.com/document/path/98429)
MAX_ATTACHMENTS = 9
MAX_TAGS = 3000
WELCOME_TTL = 20  # a WelcomeCode may be used within 20 s of the callback, once (92137/92599)
MINUTE_BLOCK, HOUR_BLOCK = 60, 3600  # 45009: 按分钟拦截则被屏蔽60秒,按小时拦截则被屏蔽60分钟 (90454)
HINT = ", hint: [{hint}], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"

# Global error codes (全局错误码) the server answers with.
MEDIA_LIMITS = {"image": (10 << 20, INVALID_IMAGE_SIZE), "voice": (2 << 20, INVALID_FILE_SIZE),
                "video": (10 << 20, INVALID_VIDEO_SIZE), "file": (20 << 20, INVALID_FILE_SIZE)}  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One request as the server saw it."""

    endpoint: str  # "externalcontact/add_msg_template" (the path after /cgi-bin/)
    method: str
    params: dict[str, str]  # query string (access_token included)
    body: Any  # parsed JSON; for an upload {"filename", "size", "content_type"}
    at: float  # server clock
    errcode: int | None = None  # what the server decided; None when it never processed the call
    http_status: int = 200  # an injected 5xx may come after the work was done


@dataclass
class Welcome:
    """A WelcomeCode of an add_external_contact callback and what became of it."""

    code: str
    userid: str
    external_userid: str
    issued: float
    sent_at: float | None = None
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MomentJob:
    jobid: str
    created: float
    text: str
    attachments: list[dict[str, Any]]
    senders: list[str]
    departments: list[int]
    tag_list: list[str]
    moment_id: str
    invalid_senders: list[str]
    invalid_tags: list[str]
    audience: dict[str, list[str]]  # sender → customers who can see the post (tagged when created)
    published: dict[str, int] = field(default_factory=dict)  # sender → when they published it (confirmed)
    cancelled: bool = False  # 停止发表企业朋友圈 (97612): senders who have not published it can no longer


@dataclass(frozen=True)
class AppMessage:
    userid: str
    at: float
    msgtype: str
    content: str
    msgid: str
    delivered: bool  # False: dropped (over 30 a minute or 1,000 an hour for this member)


@dataclass(frozen=True)
class Fault:
    kind: str  # errcode | http | slow
    value: float
    after: bool


def _norm(endpoint: str) -> str:
    path = endpoint.split("?")[0].strip("/")
    return path[len("cgi-bin/") :] if path.startswith("cgi-bin/") else path


def _route(endpoint: str) -> str:
    """The full route of an endpoint named by its path or its last part ("add_msg_template")."""
    name = _norm(endpoint)
    if name in ROUTES:
        return name
    return next((r for r in ROUTES if r.rsplit("/", 1)[-1] == name), name)


def _limit(value: Any, default: int, maximum: int) -> int:
    if isinstance(value, int) and 0 < value <= maximum:
        return value
    return default  # the documents: over the maximum (or missing), the default applies


def _page(items: list[Any], body: Mapping[str, Any], default: int, maximum: int) -> tuple[list[Any], str]:
    start = cursor_of(body.get("cursor"), len(items))
    end = start + _limit(body.get("limit"), default, maximum)
    return items[start:end], (str(end) if end < len(items) else "")


def event_xml(fields: Mapping[str, Any]) -> str:
    """A callback's plaintext XML from its fields, as the documents show them: strings in
    CDATA, integers bare, lists as ``<Item>`` children (MemChangeList)."""
    parts = ["<xml>"]
    for key, value in fields.items():
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            parts.append(f"<{key}>{value}</{key}>")
        elif isinstance(value, list | tuple):
            items = "".join(f"<Item>{crypto.cdata(str(v))}</Item>" for v in value)
            parts.append(f"<{key}>{items}</{key}>")
        else:
            parts.append(f"<{key}>{crypto.cdata(str(value))}</{key}>")
    parts.append("</xml>")
    return "".join(parts)


class WeComServer:
    """See the module docstring. All public methods are thread-safe."""

    def __init__(
        self,
        *,
        corp_id: str = "wwtestcorp0000000",
        secret: str = "test-secret",
        extra_secrets: Iterable[str] = (),  # more apps' secrets (each app has its own)
        agent_id: int = 1000002,
        clock: Callable[[], float] = time.time,
        quota: str = "month",
        quota_limit: int | None = None,
        rate_per_minute: int = 10_000,
        rate_per_hour: int = 150_000,
        rate_limits: Mapping[str, tuple[int, int]] | None = None,
        auto_confirm: float | None = None,
        moment_job_delay: float = 0.0,
        app_message_limits: tuple[int, int] = (30, 1000),
        token_ttl: int = TOKEN_TTL,
        strict: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if quota not in ("month", "week", "day"):
            raise ValueError("quota is 'month', 'week' or 'day'")
        self.corp_id = corp_id
        self.secrets = {secret, *extra_secrets}
        self.agent_id = agent_id
        self.clock = clock
        self.quota = quota
        self.quota_limit = quota_limit
        self.rate_per_minute = rate_per_minute
        self.rate_per_hour = rate_per_hour
        self.rate_limits = {_norm(k): v for k, v in (rate_limits or {}).items()}
        self.auto_confirm = auto_confirm
        self.moment_job_delay = moment_job_delay
        self.app_message_limits = app_message_limits
        self.token_ttl = token_ttl
        self.strict = strict
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._tokens: dict[str, float] = {}  # token → expires at
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._staff: set[str] = set()
        self._friends: dict[str, dict[str, None]] = {}  # external_userid → staff (ordered set)
        self._removed: set[tuple[str, str]] = set()  # (customer, staff) the customer deleted
        self._chats: dict[str, str] = {}  # chat_id → owner
        self._received: dict[str, list[float]] = defaultdict(list)  # customer or chat → send times
        self._tasks: dict[str, MsgTask] = {}
        self._jobs: dict[str, MomentJob] = {}
        self._groups: dict[str, dict[str, Any]] = {}  # group_id → {name, create_time, order, tags}
        self._tags: dict[str, dict[str, Any]] = {}  # tag_id → {name, group_id, create_time, order}
        self._marks: dict[tuple[str, str], set[str]] = defaultdict(set)  # (userid, external_userid) → tag ids
        self._media: dict[str, dict[str, Any]] = {}
        self._join_ways: dict[str, dict[str, Any]] = {}
        self._chat_members: dict[str, list[str]] = defaultdict(list)  # chat_id → who scanned in
        self._chat_names: dict[str, str] = {}  # rooms made by a join way's auto_create_room
        self._rooms_made: dict[str, int] = defaultdict(int)  # config_id → rooms it made
        self._chat_created: dict[str, float] = {}
        self._joined_at: dict[tuple[str, str], float] = {}  # (chat, customer) → when they scanned in
        self._app_messages: list[AppMessage] = []
        self._welcomes: dict[str, Welcome] = {}  # welcome_code → its use
        self._blocks: dict[str, tuple[float, str]] = {}  # endpoint → (blocked until, "minute" | "hour")
        self._ip_trusted = True
        self._forbidden: set[str] | None = set()  # endpoints answering 48002 (None: every data call)
        self._delivered: dict[str, deque[float]] = defaultdict(deque)
        self.directory = Directory(self)  # customers as a contact sync reads them (wecom_directory.py)
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> WeComServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="wecom-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> WeComServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> float:
        return self.clock()

    # ---- the world -------------------------------------------------------------------------
    def add_staff(self, *userids: str) -> None:
        with self._lock:
            self._staff.update(userids)

    def add_customer(self, external_userid: str, *staff: str) -> None:
        """Make `external_userid` a customer (friend) of each of `staff`."""
        with self._lock:
            self._staff.update(staff)
            friends = self._friends.setdefault(external_userid, {})
            for userid in staff:
                friends[userid] = None
                self._removed.discard((external_userid, userid))

    def add_external_contact(self, external_userid: str, userid: str, *, welcome: bool = True) -> str | None:
        """A customer adds a staff member (the add_external_contact callback): they become
        friends and, unless the admin configured a welcome for that member (`welcome=False`:
        92599 "不会返回welcome_code"), the callback's WelcomeCode is returned — usable once,
        within 20 s (WELCOME_TTL)."""
        self.add_customer(external_userid, userid)
        if not welcome:
            return None
        with self._lock:
            code = "wc" + secrets.token_urlsafe(24)
            self._welcomes[code] = Welcome(code, userid, external_userid, self.clock())
            return code

    def welcomes(self, external_userid: str | None = None) -> list[Welcome]:
        """The welcome messages sent (send_welcome_msg that succeeded)."""
        with self._lock:
            return [w for w in self._welcomes.values()
                    if w.sent_at is not None and external_userid in (None, w.external_userid)]  # fmt: skip

    def remove_friend(self, external_userid: str, userid: str | None = None) -> None:
        """The customer deleted the staff member (all of them when `userid` is None): mass
        messages confirmed afterwards report status 2 for this customer."""
        with self._lock:
            friends = self._friends.get(external_userid, {})
            for u in [userid] if userid else list(friends):
                friends.pop(u, None)
                self._removed.add((external_userid, u))

    def add_chat(self, chat_id: str, owner: str) -> None:
        with self._lock:
            self._staff.add(owner)
            self._chats[chat_id] = owner

    def is_friend(self, external_userid: str, userid: str) -> bool:
        with self._lock:
            return userid in self._friends.get(external_userid, {})

    # ---- faults ----------------------------------------------------------------------------
    def fail_next(self, endpoint: str, errcode: int = RATE_LIMITED, n: int = 1) -> None:
        """The next `n` calls to `endpoint` answer `errcode` (nothing is done)."""
        self._add_fault(endpoint, Fault("errcode", errcode, False), n)

    def fail_http(self, endpoint: str, status: int = 502, n: int = 1, *, after: bool = False) -> None:
        """The next `n` calls answer HTTP `status`; with `after=True` the work is done first
        (the caller cannot know it was)."""
        self._add_fault(endpoint, Fault("http", status, after), n)

    def slow(self, endpoint: str, seconds: float, n: int = 1, *, after: bool = True) -> None:
        """The next `n` calls answer `seconds` late (a client timeout); with `after=True`
        (the default) the work is done before the wait, as when a reply is lost."""
        self._add_fault(endpoint, Fault("slow", seconds, after), n)

    def _add_fault(self, endpoint: str, fault: Fault, n: int) -> None:
        with self._lock:
            self._faults[_norm(endpoint)].extend([fault] * n)

    def distrust_ip(self, trusted: bool = False) -> None:
        """This caller's IP leaves the app's trusted IP list (企业可信IP): every data call answers
        60020 with the caller's IP in errmsg; ``gettoken`` still issues tokens — the list is
        checked on data calls only (a WeCom staff answer: "可以获取token 结果ip禁用",
        developers.weixin.qq.com/community/personal/oCJUsw-2hHvg0WIRTusZGTbUx758/question).
        `distrust_ip(True)` puts it back."""
        with self._lock:
            self._ip_trusted = trusted

    def forbid(self, *endpoints: str, allowed: bool = False) -> None:
        """The app may not call `endpoints` (every data call when none is named): 48002 "api
        forbidden" (the app is not among 客户联系 → 可调用接口的应用, 96355/92135).
        `forbid(allowed=True)` lifts every ban."""
        with self._lock:
            if allowed:
                self._forbidden = set()
            elif not endpoints:
                self._forbidden = None
            elif self._forbidden is not None:
                self._forbidden.update(_route(e) for e in endpoints)

    def change_secret(self, secret: str) -> None:
        """The admin resets the app's secret: gettoken with the old one answers 40001; tokens
        already issued stay valid until they expire."""
        with self._lock:
            self.secrets = {secret}

    def block(self, endpoint: str, kind: str = "minute") -> None:
        """`endpoint` is blocked now as when its per-minute (60 s) or per-hour (60 min) limit
        was passed (90454): every call answers 45009 until the block ends."""
        if kind not in ("minute", "hour"):
            raise ValueError("kind is 'minute' or 'hour'")
        with self._lock:
            self._blocks[_route(endpoint)] = (self.clock() + (MINUTE_BLOCK if kind == "minute" else HOUR_BLOCK), kind)

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 (expired) from now on."""
        with self._lock:
            now = self.clock()
            for token in self._tokens:
                self._tokens[token] = min(self._tokens[token], now)

    def invalidate_tokens(self) -> None:
        """Every token issued so far answers 40014 (unknown) from now on, as when WeCom
        invalidates tokens early."""
        with self._lock:
            self._tokens.clear()

    # ---- inspection ------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, endpoint: str) -> list[Call]:
        key = _norm(endpoint)
        with self._lock:
            return [c for c in self._calls if c.endpoint == key or c.endpoint.rsplit("/", 1)[-1] == key]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def task(self, msgid: str) -> MsgTask:
        with self._lock:
            self._settle()
            return self._tasks[msgid]

    @property
    def tasks(self) -> list[MsgTask]:
        with self._lock:
            self._settle()
            return list(self._tasks.values())

    def received(self, target: str) -> list[float]:
        """When `target` (a customer or a chat) received mass messages (status 1)."""
        with self._lock:
            self._settle()
            return list(self._received.get(target, []))

    def moment_job(self, jobid: str) -> MomentJob:
        with self._lock:
            self._settle()
            return self._jobs[jobid]

    @property
    def moment_jobs(self) -> list[MomentJob]:
        with self._lock:
            self._settle()
            return list(self._jobs.values())

    def _moment(self, moment_id: str) -> MomentJob | None:
        return next((j for j in self._jobs.values() if j.moment_id == moment_id), None)

    def app_messages(self, userid: str | None = None, *, delivered: bool | None = None) -> list[AppMessage]:
        with self._lock:
            return [m for m in self._app_messages
                    if (userid is None or m.userid == userid) and (delivered is None or m.delivered == delivered)]  # fmt: skip

    def tags_of(self, external_userid: str, userid: str | None = None) -> set[str]:
        """The tag ids on a customer (put by `userid`, or by anyone)."""
        with self._lock:
            return {t for (u, c), tags in self._marks.items() if c == external_userid and userid in (None, u)
                    for t in tags if t in self._tags}  # fmt: skip

    def tag_id(self, name: str, group_name: str | None = None) -> str | None:
        with self._lock:
            for tid, tag in self._tags.items():
                group = self._groups[tag["group_id"]]["name"]
                if tag["name"] == name and group_name in (None, group):
                    return tid
        return None

    def media(self, media_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._media.get(media_id)

    def join_way(self, config_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._join_ways.get(config_id)

    def scan_join_way(self, config_id: str, external_userid: str) -> str | None:
        """A customer scans a join way's QR code: into the first of its chats with room, else —
        with auto_create_room 1 — a new room named room_base_name plus a number counted from
        room_base_id, which joins the way's chat_id_list ("auto_create_room 当群满了后，是否自动
        新建群", "room_base_name 自动建群的群名前缀", "room_base_id 自动建群的群起始序号":
        https://developer.work.weixin.qq.com/document/path/92229). A customer group holds at most
        500 ("外部群最多 500 人": https://developer.work.weixin.qq.com/document/path/98429).
        Returns the chat joined (None: every chat full and no auto-creation). The member
        change callback is the test's to send (send_callback)."""
        with self._lock:
            way = self._join_ways[config_id]
            for chat in way["chat_id_list"]:
                members = self._chat_members[chat]
                if external_userid in members:
                    return chat
                if len(members) < CHAT_MEMBERS_MAX:
                    members.append(external_userid)
                    self._joined_at[(chat, external_userid)] = self.clock()
                    return chat
            if way["auto_create_room"] != 1:
                return None
            made = self._rooms_made[config_id]
            chat = f"wrAuto{secrets.token_hex(8)}"
            self._chats[chat] = self._chats.get(way["chat_id_list"][0], "")
            way["chat_id_list"] = [*way["chat_id_list"], chat]
            self._rooms_made[config_id] = made + 1
            self._chat_created[chat] = self.clock()
            self._chat_names[chat] = f"{way['room_base_name']}{(way['room_base_id'] or 1) + made}"
            self._chat_members[chat].append(external_userid)
            self._joined_at[(chat, external_userid)] = self.clock()
            return chat

    def leave_chat(self, chat_id: str, external_userid: str) -> None:
        """A customer leaves a chat (the member change callback is the test's to send)."""
        with self._lock:
            members = self._chat_members.get(chat_id, [])
            if external_userid in members:
                members.remove(external_userid)

    def chat_members(self, chat_id: str) -> list[str]:
        with self._lock:
            return list(self._chat_members.get(chat_id, ()))

    def chat_name(self, chat_id: str) -> str | None:
        with self._lock:
            return self._chat_names.get(chat_id)

    # ---- staff confirmation ----------------------------------------------------------------
    def confirm(self, msgid: str, userid: str | None = None, at: float | None = None) -> dict[str, int]:
        """The staff member (every staff member of the task when None) sends the mass
        message at `at` (now by default). Returns each target's status."""
        with self._lock:
            self._settle()
            task = self._tasks[msgid]
            when = self.clock() if at is None else at
            out: dict[str, int] = {}
            for staff in [task.staff[userid]] if userid else list(task.staff.values()):
                out.update(self._confirm(task, staff, when))
            return out

    def _confirm(self, task: MsgTask, staff: StaffTask, at: float) -> dict[str, int]:
        if task.cancelled or staff.status != TASK_UNSENT:
            return {t: s for t, (s, _) in staff.results.items()}
        staff.status, staff.send_time = TASK_SENT, int(at)
        for target in staff.targets:
            if task.chat_type == "single" and staff.userid not in self._friends.get(target, {}):
                staff.results[target] = (NOT_FRIEND, None)
            elif self._over_quota(target, at):
                staff.results[target] = (OVER_QUOTA, None)
            else:
                staff.results[target] = (SENT, int(at))
                self._received[target].append(at)
        return {t: s for t, (s, _) in staff.results.items()}

    def confirm_moment(self, moment_id: str, userid: str | None = None, at: float | None = None) -> dict[str, int]:
        """The staff member (every sender of the post when None) publishes the Moments post
        at `at` (now by default). Returns each sender's publish_status (0 未发表, 1 已发表)."""
        with self._lock:
            self._settle()
            job = self._moment(moment_id)
            if job is None:
                raise KeyError(moment_id)
            when = int(self.clock() if at is None else at)
            for sender in [userid] if userid else list(job.audience):
                if sender in job.audience and not job.cancelled:
                    job.published.setdefault(sender, when)
            return {u: int(u in job.published) for u in job.audience}

    def quota_period(self, at: float) -> tuple[tuple[int, ...], int]:
        """The quota period containing `at` (China time) and its limit."""
        day = datetime.fromtimestamp(at, CHINA)
        if self.quota == "day":
            key, limit = (day.year, day.month, day.day), 1
        elif self.quota == "week":
            iso = day.isocalendar()
            key, limit = (iso.year, iso.week), 7
        else:
            key, limit = (day.year, day.month), calendar.monthrange(day.year, day.month)[1]
        return key, self.quota_limit if self.quota_limit is not None else limit

    def _over_quota(self, target: str, at: float) -> bool:
        key, limit = self.quota_period(at)
        return sum(1 for t in self._received.get(target, []) if self.quota_period(t)[0] == key) >= limit

    def _settle(self) -> None:
        """Confirm the tasks whose auto-confirmation time has come (in creation order)."""
        if self.auto_confirm is None:
            return
        now = self.clock()
        for task in self._tasks.values():
            due = task.create_time + self.auto_confirm
            if due <= now:
                for staff in task.staff.values():
                    if staff.status == TASK_UNSENT:
                        self._confirm(task, staff, due)
        for job in self._jobs.values():  # Moments tasks too: each sender publishes auto_confirm seconds later
            due = job.created + self.auto_confirm
            if due <= now and not job.cancelled:
                for sender in job.audience:
                    job.published.setdefault(sender, int(due))

    # ---- callbacks out ---------------------------------------------------------------------
    def send_callback(
        self,
        url: str,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        event: str | Mapping[str, Any],
        *,
        timeout: float = 5.0,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> httpx.Response:
        """POST an event to a callback URL as WeCom does: msg_signature, timestamp and nonce
        in the query, the encrypted XML as the body (WeCom waits 5 s and retries 3 times;
        this sends once and returns the answer)."""
        plain = event if isinstance(event, str) else event_xml(event)
        query, body = crypto.seal_message(
            token, encoding_aes_key, corp_id, plain, timestamp=timestamp, nonce=nonce, agent_id=self.agent_id
        )
        return httpx.post(url, params=query, content=body.encode("utf-8"),
                          headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=timeout)  # fmt: skip

    def verify_callback_url(
        self, url: str, token: str, encoding_aes_key: str, corp_id: str, *, timeout: float = 1.0
    ) -> tuple[bool, httpx.Response]:
        """The URL verification WeCom performs when a callback URL is saved: a GET with an
        encrypted echostr; the URL passes if it answers the plaintext exactly."""
        plain = str(secrets.randbelow(10**19))
        echostr = crypto.encrypt(encoding_aes_key, plain, corp_id)
        ts, nonce = str(int(self.clock())), str(secrets.randbelow(10**9))
        params = {"msg_signature": crypto.signature(token, ts, nonce, echostr), "timestamp": ts, "nonce": nonce,
                  "echostr": echostr}  # fmt: skip
        response = httpx.get(url, params=params, timeout=timeout)
        return response.status_code == 200 and response.content == plain.encode(), response

    # ---- request handling ------------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for key in (endpoint, endpoint.rsplit("/", 1)[-1]):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        *,
        fault: Fault | None = None,
        logged: Any = None,
        peer: str = "127.0.0.1",
    ) -> tuple[int, dict[str, Any]]:
        """Answer one call: (HTTP status, JSON document). The HTTP layer is in _Handler."""
        endpoint = _norm(path)
        with self._lock:
            now = self.clock()
            try:
                doc = {"errcode": OK, "errmsg": "ok",
                       **self._dispatch(endpoint, method, params, body, now, fault, peer)}  # fmt: skip
                status = 200
            except ApiError as exc:
                doc = {"errcode": exc.errcode, "errmsg": exc.errmsg, **exc.extra}
                status = 404 if endpoint not in ROUTES else 200
            if fault is not None and fault.kind == "http":  # the work is done, the answer is an error
                status = int(fault.value)
            self._calls.append(Call(endpoint, method, dict(params), body if logged is None else logged, now,
                                    doc["errcode"], status))  # fmt: skip
            return status, doc

    def log_failed(self, endpoint: str, method: str, params: dict[str, str], body: Any, status: int) -> None:
        with self._lock:
            self._calls.append(Call(_norm(endpoint), method, dict(params), body, self.clock(), None, status))

    def _hinted(self, errcode: int, peer: str) -> str:
        """errmsg as WeCom writes it for 60020/48002: the text, a hint, the caller's IP, a link."""
        return ERRMSG[errcode] + HINT.format(hint=secrets.randbelow(10**18), ip=peer, code=errcode)

    def _dispatch(
        self, endpoint: str, method: str, params: dict[str, str], body: Any, now: float, fault: Fault | None,
        peer: str = "127.0.0.1",
    ) -> dict[str, Any]:
        route = ROUTES.get(endpoint)
        if route is None:
            raise ApiError(INVALID_PARAMETER, f"unknown api: /cgi-bin/{endpoint}")
        want, handler = route
        if method != want:
            raise ApiError(EMPTY_PARAMETER, f"/cgi-bin/{endpoint} wants HTTP {want}")
        if fault is not None and fault.kind == "errcode":  # before anything else: the call does nothing
            raise ApiError(int(fault.value))
        if endpoint != "gettoken":
            self._check_token(params.get("access_token"), now)
            if not self._ip_trusted:  # checked on data calls, not on gettoken
                raise ApiError(IP_NOT_TRUSTED, self._hinted(IP_NOT_TRUSTED, peer))
            if self._forbidden is None or endpoint in self._forbidden:
                raise ApiError(API_FORBIDDEN, self._hinted(API_FORBIDDEN, peer))
        if endpoint != "message/send":  # 发消息频率不计入基础频率
            self._rate_limit(endpoint, now)
        self._settle()
        if isinstance(body, _BadJson):
            raise ApiError(INVALID_PARAMETER, "Warning: wrong json format.")
        return handler(self, params, body if body is not None else {}, now)

    def _check_token(self, token: str | None, now: float) -> None:
        if not token:
            raise ApiError(MISSING_TOKEN)
        expires = self._tokens.get(token)
        if expires is None:
            raise ApiError(INVALID_TOKEN)
        if now >= expires:
            raise ApiError(TOKEN_EXPIRED)

    def _rate_limit(self, endpoint: str, now: float) -> None:
        """45009 (90454): passing an API's per-minute limit blocks it for 60 s, its per-hour
        limit for 60 minutes; a call refused during a block is not counted."""
        until, _ = self._blocks.get(endpoint, (0.0, ""))
        if now < until:
            raise ApiError(RATE_LIMITED)
        per_minute, per_hour = self.rate_limits.get(endpoint, (self.rate_per_minute, self.rate_per_hour))
        window = self._windows[endpoint]
        while window and window[0] <= now - 3600:
            window.popleft()
        if len(window) >= per_hour:
            self._blocks[endpoint] = (now + HOUR_BLOCK, "hour")
            raise ApiError(RATE_LIMITED)
        if sum(1 for t in window if t > now - 60) >= per_minute:
            self._blocks[endpoint] = (now + MINUTE_BLOCK, "minute")
            raise ApiError(RATE_LIMITED)
        window.append(now)

    # ---- endpoints -------------------------------------------------------------------------
    def _gettoken(self, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
        corpid, secret = params.get("corpid"), params.get("corpsecret")
        if not corpid:
            raise ApiError(MISSING_CORPID)
        if not secret:
            raise ApiError(MISSING_SECRET)
        if corpid != self.corp_id:
            raise ApiError(INVALID_CORPID)
        if secret not in self.secrets:
            raise ApiError(INVALID_SECRET)
        token = "tok" + secrets.token_urlsafe(48)
        self._tokens[token] = now + self.token_ttl
        return {"access_token": token, "expires_in": self.token_ttl}

    def _learn_friend(self, customer: str, userid: str) -> None:
        """Outside strict mode a call naming a staff member and a customer makes them friends,
        unless the customer deleted that staff member (`remove_friend`)."""
        if not self.strict and (customer, userid) not in self._removed:
            self._staff.add(userid)
            self._friends.setdefault(customer, {})[userid] = None

    def _known(self, userid: str) -> bool:
        if userid not in self._staff and not self.strict:
            self._staff.add(userid)
        return userid in self._staff

    def _media_ok(self, media_id: Any, now: float, *, moment: bool = False) -> bool:
        media = self._media.get(media_id) if isinstance(media_id, str) else None
        if media is None or now >= media["created_at"] + MEDIA_TTL:
            return False
        return not moment or media.get("attachment_type") == 1

    def _attachments(self, raw: Any, now: float) -> list[dict[str, Any]]:
        if raw in (None, ""):
            return []
        if not isinstance(raw, list) or len(raw) > MAX_ATTACHMENTS:
            raise ApiError(INVALID_PARAMETER, "attachments: a list of at most 9")
        for item in raw:
            kind = item.get("msgtype") if isinstance(item, dict) else None
            if kind not in ("image", "link", "miniprogram", "video", "file"):
                raise ApiError(INVALID_ATTACHMENT_TYPE)
            part = item.get(kind)
            if not isinstance(part, dict):
                raise ApiError(INVALID_PARAMETER, f"attachment {kind} without its '{kind}' object")
            if kind == "image":
                if part.get("media_id"):
                    if not self._media_ok(part["media_id"], now):
                        raise ApiError(INVALID_MEDIA_ID)
                elif not part.get("pic_url"):
                    raise ApiError(INVALID_PARAMETER, "image needs media_id or pic_url")
            elif kind in ("video", "file"):
                if not self._media_ok(part.get("media_id"), now):
                    raise ApiError(INVALID_MEDIA_ID)
            elif kind == "link":
                if not part.get("title") or not part.get("url"):
                    raise ApiError(INVALID_PARAMETER, "link needs title and url")
            else:
                if not all(part.get(k) for k in ("title", "appid", "page")):
                    raise ApiError(INVALID_PARAMETER, "miniprogram needs title, pic_media_id, appid and page")
                if not self._media_ok(part.get("pic_media_id"), now):
                    raise ApiError(INVALID_MEDIA_ID)
        return list(raw)

    def _add_msg_template(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        chat_type = body.get("chat_type") or "single"
        if chat_type not in ("single", "group"):
            raise ApiError(INVALID_CHAT_TYPE)
        text = (body.get("text") or {}).get("content") or ""
        if len(text.encode("utf-8")) > 4000:
            raise ApiError(CONTENT_TOO_LONG)
        attachments = self._attachments(body.get("attachments"), now)
        if not text and not attachments:
            raise ApiError(EMPTY_CONTENT)
        sender = body.get("sender") or ""
        if sender and not self._known(sender):
            raise ApiError(INVALID_USERID)
        routes: dict[str, list[str]] = {}
        fail: list[str] = []
        if chat_type == "single":
            customers = strings_of(body.get("external_userid"), "external_userid")
            if len(customers) > MAX_RECIPIENTS:
                raise ApiError(INVALID_PARAMETER, f"external_userid: at most {MAX_RECIPIENTS}, got {len(customers)}")
            if not customers and not sender:
                raise ApiError(INVALID_PARAMETER, "external_userid and sender cannot both be empty")
            if not customers:
                customers = [c for c, staff in self._friends.items() if sender in staff]
            for customer in dict.fromkeys(customers):
                staff = self._friends.get(customer)
                if sender:
                    self._learn_friend(customer, sender)
                    staff = self._friends.get(customer)
                    owner = sender if staff and sender in staff else None
                else:  # 仅会推送给最后跟客户进行聊天互动的企业成员: the last staff member who added them
                    owner = next(reversed(staff)) if staff else None
                if owner is None:
                    fail.append(customer)
                else:
                    routes.setdefault(owner, []).append(customer)
        else:
            if not sender:
                raise ApiError(MISSING_USERID, "sender is required for chat_type group")
            chats = strings_of(body.get("chat_id_list"), "chat_id_list")
            if len(chats) > MAX_CHATS:
                raise ApiError(INVALID_PARAMETER, f"chat_id_list: at most {MAX_CHATS}")
            if not chats:
                chats = [c for c, owner in self._chats.items() if owner == sender]
            for chat in dict.fromkeys(chats):
                if chat not in self._chats and not self.strict:
                    self._chats[chat] = sender
                if self._chats.get(chat) == sender:
                    routes.setdefault(sender, []).append(chat)
                else:
                    fail.append(chat)
        if not routes:
            raise ApiError(NO_CUSTOMER, fail_list=fail)
        msgid = "msg" + secrets.token_hex(12)
        # an API-created task is 企业发表 (create_type 0) and has no creator (96355)
        self._tasks[msgid] = MsgTask(
            msgid, chat_type, sender, int(now), text, attachments,
            {u: StaffTask(u, targets) for u, targets in routes.items()},
        )  # fmt: skip
        return {"fail_list": fail, "msgid": msgid}

    def _msg_task(self, body: dict[str, Any]) -> MsgTask:
        msgid = body.get("msgid")
        if not msgid:
            raise ApiError(MISSING_MSGID)
        task = self._tasks.get(msgid)
        if task is None:
            raise ApiError(INVALID_MSGID)
        return task

    def _get_groupmsg_task(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        task = self._msg_task(body)
        rows = []
        for staff in task.staff.values():
            row: dict[str, Any] = {"userid": staff.userid, "status": staff.status}
            if staff.send_time is not None:
                row["send_time"] = staff.send_time
            rows.append(row)
        page, next_cursor = _page(rows, body, 500, 1000)
        return {"next_cursor": next_cursor, "task_list": page}

    def _get_groupmsg_send_result(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        task = self._msg_task(body)
        userid = body.get("userid")
        if not userid:
            raise ApiError(MISSING_USERID)
        staff = task.staff.get(userid)
        rows = []
        key = "external_userid" if task.chat_type == "single" else "chat_id"
        for target in staff.targets if staff else []:
            status, send_time = staff.results.get(target, (UNSENT, None))
            if task.chat_type == "group" and status == UNSENT:
                continue  # 若为客户群群发，不返回未发送记录 (96355): an unconfirmed post lists no chat
            row: dict[str, Any] = {key: target, "userid": userid, "status": status}
            if send_time is not None:
                row["send_time"] = send_time
            rows.append(row)
        page, next_cursor = _page(rows, body, 500, 1000)
        return {"next_cursor": next_cursor, "send_list": page}

    def _get_groupmsg_list_v2(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        start, end = body.get("start_time"), body.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise ApiError(INVALID_PARAMETER, "start_time and end_time are required")
        if end - start > 31 * 86400:
            raise ApiError(INVALID_PARAMETER, "the time range may not exceed one month")
        chat_type = body.get("chat_type") or "single"
        creator, filter_type = body.get("creator"), body.get("filter_type", 2)
        if filter_type not in (0, 1, 2):
            filter_type = 2
        rows = []
        for t in self._tasks.values():
            if t.chat_type != chat_type or not start <= t.create_time <= end:
                continue
            if filter_type != 2 and t.create_type != filter_type:
                continue  # 0 企业发表, 1 个人发表, 2 所有
            if creator and t.creator != creator:
                continue  # API tasks have no creator: a creator filter never finds them (96355)
            row: dict[str, Any] = {"msgid": t.msgid, "create_time": t.create_time, "create_type": t.create_type,
                                   "text": {"content": t.text}, "attachments": t.attachments}  # fmt: skip
            if t.creator:  # 群发消息创建者userid，API接口创建的群发消息不返回该字段 (96355)
                row["creator"] = t.creator
            rows.append(row)
        page, next_cursor = _page(rows, body, 50, 100)
        return {"next_cursor": next_cursor, "group_msg_list": page}

    def _cancel_groupmsg_send(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """停止企业群发 (97611): staff members who have not sent it can no longer; what was sent
        stays sent ("此接口无法撤回已经群发给客户的消息")."""
        self._msg_task(body).cancelled = True
        return {}

    def _remind_groupmsg_send(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """提醒成员群发 (97610): notifies the staff members again; at most three reminders per task
        in 24 hours (the page names no errcode beyond that: this server answers 45009)."""
        task = self._msg_task(body)
        recent = [r for r in task.reminders if r > now - 86400]
        if len(recent) >= 3:
            raise ApiError(RATE_LIMITED, "remind limit: 3 reminders per task in 24 hours")
        task.reminders.append(int(now))
        return {}

    def _send_welcome_msg(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """发送新客户欢迎语 (92137/92599): the callback's welcome_code, within 20 s, once; text and
        up to 9 attachments (as add_msg_template's). A code already used → 41051. A code that
        expired or was never issued: the pages name no errcode; this server answers 40058."""
        code = body.get("welcome_code")
        if not code or not isinstance(code, str):
            raise ApiError(INVALID_PARAMETER, "welcome_code missing")
        welcome = self._welcomes.get(code)
        if welcome is None:
            raise ApiError(INVALID_PARAMETER, "invalid welcome_code")
        if welcome.sent_at is not None:
            raise ApiError(WELCOME_SENT)
        if now >= welcome.issued + WELCOME_TTL:
            raise ApiError(INVALID_PARAMETER, "welcome_code expired")
        text = (body.get("text") or {}).get("content") or ""
        if len(text.encode("utf-8")) > 4000:
            raise ApiError(CONTENT_TOO_LONG)
        attachments = self._attachments(body.get("attachments"), now)
        if not text and not attachments:
            raise ApiError(EMPTY_CONTENT)
        welcome.sent_at, welcome.text, welcome.attachments = now, text, attachments
        return {}

    def _list_customers(self, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
        """获取客户列表 (92113): GET ?userid= → external_userid of that member's customers;
        an unknown member → 40003; one without customers → 84061."""
        userid = params.get("userid")
        if not userid:
            raise ApiError(MISSING_USERID)
        if not self._known(userid):
            raise ApiError(INVALID_USERID)
        customers = [c for c, staff in self._friends.items() if userid in staff]
        if not customers:
            raise ApiError(NO_RELATION)
        return {"external_userid": customers}

    def _add_moment_task(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        text = (body.get("text") or {}).get("content") or ""
        if len(text) > 2000:
            raise ApiError(INVALID_PARAMETER, "invalid text size")
        raw = body.get("attachments") or []
        if not isinstance(raw, list):
            raise ApiError(INVALID_PARAMETER, "attachments must be a list")
        if not text and not raw:
            raise ApiError(EMPTY_CONTENT)
        kinds = {a.get("msgtype") if isinstance(a, dict) else None for a in raw}
        if kinds - {"image", "video", "link"} or len(kinds) > 1:
            raise ApiError(INVALID_PARAMETER, "invalid attachments msgtype")
        if ("image" in kinds and len(raw) > 9) or (kinds & {"video", "link"} and len(raw) > 1):
            raise ApiError(INVALID_PARAMETER, "invalid attachments size")
        for item in raw:
            part = item.get(item["msgtype"]) or {}
            if item["msgtype"] == "link":
                if not part.get("url"):
                    raise ApiError(INVALID_PARAMETER, "link needs url")
                # link.media_id (图片链接封面) is required (95094/96351): a link without its cover is refused
                if not self._media_ok(part.get("media_id"), now, moment=True):
                    raise ApiError(INVALID_MEDIA_ID, "invalid media_id (a Moments link needs its cover's media_id)")
            elif not self._media_ok(part.get("media_id"), now, moment=True):
                raise ApiError(INVALID_MEDIA_ID, "invalid media_id (moments take media/upload_attachment media)")
        visible = body.get("visible_range") or {}
        senders_raw = visible.get("sender_list") or {}
        senders = strings_of(senders_raw.get("user_list"), "user_list")
        departments = senders_raw.get("department_list") or []
        tag_list = strings_of((visible.get("external_contact_list") or {}).get("tag_list"), "tag_list")
        if not senders and not departments:
            senders = sorted(self._staff)  # 若未指定，则表示执行者为应用可见范围内所有成员
        invalid_senders = [u for u in senders if not self._known(u)]
        valid_tags = [t for t in tag_list if t in self._tags]
        audience: dict[str, list[str]] = {}
        for userid in senders:
            if userid in invalid_senders:
                continue
            audience[userid] = [
                c for c, staff in self._friends.items()
                if userid in staff and (not tag_list or self._marks.get((userid, c), set()) & set(valid_tags))
            ]  # fmt: skip
        jobid = "job" + secrets.token_hex(16)
        self._jobs[jobid] = MomentJob(
            jobid, now, text, list(raw), senders, list(departments), tag_list, "mom" + secrets.token_hex(12),
            invalid_senders, [t for t in tag_list if t not in self._tags], audience,
        )  # fmt: skip
        return {"jobid": jobid}

    def _get_moment_task_result(self, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
        jobid = params.get("jobid")
        if not jobid:
            raise ApiError(INVALID_PARAMETER, "jobid missing")
        job = self._jobs.get(jobid)
        if job is None or now >= job.created + MOMENT_JOB_TTL:
            raise ApiError(JOBID_NOT_FOUND)
        elapsed = now - job.created
        if elapsed < self.moment_job_delay:
            return {"status": 1 if elapsed < self.moment_job_delay / 2 else 2, "type": "add_moment_task"}
        result = {
            "errcode": 0,
            "errmsg": "ok",
            "moment_id": job.moment_id,
            "invalid_sender_list": {"user_list": job.invalid_senders, "department_list": []},
            "invalid_external_contact_list": {"tag_list": job.invalid_tags},
        }
        return {"status": 3, "type": "add_moment_task", "result": result}

    def _get_moment_list(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """获取企业全部的发表列表 (93443/96352): posts created in [start_time, end_time] (≤ 1 month);
        filter_type 0 企业发表, 1 个人发表, 2 all; limit ≤ 20 (default 20). A post made through
        add_moment_task carries no creator ("接口创建的朋友圈不再返回该字段"); a job still running
        has no post yet."""
        start, end = body.get("start_time"), body.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise ApiError(INVALID_PARAMETER, "start_time and end_time are required")
        if end - start > 31 * 86400:
            raise ApiError(INVALID_PARAMETER, "the time range may not exceed one month")
        if body.get("filter_type", 2) == 1 or body.get("creator"):
            return {"next_cursor": "", "moment_list": []}  # only company posts here, and none has a creator
        rows = [
            {"moment_id": j.moment_id, "create_time": int(j.created), "create_type": 0,
             "visible_type": 0 if j.tag_list else 1, "text": {"content": j.text}}
            for j in self._jobs.values()
            if start <= j.created <= end and now >= j.created + self.moment_job_delay
        ]  # fmt: skip
        page, next_cursor = _page(rows, body, 20, 20)
        return {"next_cursor": next_cursor, "moment_list": page}

    def _get_moment_task(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """获取客户朋友圈企业发表的列表: each sender of a company-created post and whether they
        published it (publish_status 0 未发表, 1 已发表); limit ≤ 1,000 (default 500)."""
        moment_id = body.get("moment_id")
        if not moment_id:
            raise ApiError(INVALID_PARAMETER, "moment_id missing")
        job = self._moment(moment_id) if isinstance(moment_id, str) else None
        if job is None or now < job.created + self.moment_job_delay:  # not known before the job is done
            raise ApiError(INVALID_PARAMETER, "invalid moment_id")
        rows = [{"userid": u, "publish_status": int(u in job.published)} for u in job.audience]
        page, next_cursor = _page(rows, body, 500, 1000)
        return {"next_cursor": next_cursor, "task_list": page}

    def _cancel_moment_task(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """停止发表企业朋友圈 (97612): "停止尚未发送的企业朋友圈发送任务" — senders who have not
        published the post can no longer; "此接口无法撤回已经发表到客户朋友圈的信息": what was
        published stays. The moment_id is the one get_moment_task_result gave."""
        moment_id = body.get("moment_id")
        if not moment_id:
            raise ApiError(INVALID_PARAMETER, "moment_id missing")
        job = self._moment(moment_id) if isinstance(moment_id, str) else None
        if job is None or now < job.created + self.moment_job_delay:
            raise ApiError(INVALID_PARAMETER, "invalid moment_id")
        job.cancelled = True
        return {}

    def _tag_group_doc(self, group_id: str, tag_ids: Iterable[str]) -> dict[str, Any]:
        group = self._groups[group_id]
        return {
            "group_id": group_id,
            "group_name": group["name"],
            "create_time": group["create_time"],
            "order": group["order"],
            "deleted": False,
            "tag": [
                {
                    "id": t,
                    "name": self._tags[t]["name"],
                    "create_time": self._tags[t]["create_time"],
                    "order": self._tags[t]["order"],
                    "deleted": False,
                }
                for t in tag_ids
            ],  # fmt: skip
        }

    def _get_corp_tag_list(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        tag_ids = strings_of(body.get("tag_id"), "tag_id")
        group_ids = strings_of(body.get("group_id"), "group_id")
        groups: list[dict[str, Any]] = []
        for gid, group in self._groups.items():
            if group_ids:  # group_id wins over tag_id when both are given
                if gid in group_ids:
                    groups.append(self._tag_group_doc(gid, group["tags"]))
            elif tag_ids:
                chosen = [t for t in group["tags"] if t in tag_ids]
                if chosen:
                    groups.append(self._tag_group_doc(gid, chosen))
            else:
                groups.append(self._tag_group_doc(gid, group["tags"]))
        return {"tag_group": groups}

    def _add_corp_tag(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        tags = body.get("tag")
        if not isinstance(tags, list) or not tags or not all(isinstance(t, dict) and t.get("name") for t in tags):
            raise ApiError(INVALID_PARAMETER, "tag: a list of {name, order}")
        group_id, group_name = body.get("group_id"), body.get("group_name")
        if group_id:
            if group_id not in self._groups:
                raise ApiError(INVALID_TAG_ID, "invalid group_id")
        else:
            if not group_name:
                raise ApiError(INVALID_PARAMETER, "group_id or group_name is required")
            group_id = next((g for g, grp in self._groups.items() if grp["name"] == group_name), None)
            if group_id is None:
                group_id = "et" + secrets.token_hex(14)
                self._groups[group_id] = {"name": group_name, "create_time": int(now),
                                          "order": int(body.get("order") or 0), "tags": []}  # fmt: skip
        group = self._groups[group_id]
        added: list[str] = []
        for item in tags:
            name = str(item["name"])
            existing = next((t for t in group["tags"] if self._tags[t]["name"] == name), None)
            if existing is not None:  # same name in the group: one tag (reused, not duplicated)
                if existing not in added:
                    added.append(existing)
                continue
            if len(self._tags) >= MAX_TAGS:
                raise ApiError(TOO_MANY_TAGS)
            tid = "et" + secrets.token_hex(14)
            self._tags[tid] = {"name": name, "group_id": group_id, "create_time": int(now),
                               "order": int(item.get("order") or 0)}  # fmt: skip
            group["tags"].append(tid)
            added.append(tid)
        return {"tag_group": self._tag_group_doc(group_id, added)}

    def _del_corp_tag(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        tag_ids = strings_of(body.get("tag_id"), "tag_id")
        group_ids = strings_of(body.get("group_id"), "group_id")
        if not tag_ids and not group_ids:
            raise ApiError(INVALID_PARAMETER, "tag_id and group_id cannot both be empty")
        if any(t not in self._tags for t in tag_ids) or any(g not in self._groups for g in group_ids):
            raise ApiError(INVALID_TAG_ID)
        for gid in group_ids:
            tag_ids.extend(self._groups[gid]["tags"])
        for tid in dict.fromkeys(tag_ids):
            tag = self._tags.pop(tid, None)
            if tag is not None:
                group = self._groups.get(tag["group_id"])
                if group is not None:
                    group["tags"].remove(tid)
                    if not group["tags"]:  # a group without tags is deleted with its last tag
                        del self._groups[tag["group_id"]]
        for marks in self._marks.values():
            marks.intersection_update(self._tags)
        return {}

    def _mark_tag(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        userid, customer = body.get("userid"), body.get("external_userid")
        if not userid:
            raise ApiError(MISSING_USERID)
        if not customer:
            raise ApiError(MISSING_EXTERNAL_USERID)
        add, remove = strings_of(body.get("add_tag"), "add_tag"), strings_of(body.get("remove_tag"), "remove_tag")
        if not add and not remove:
            raise ApiError(INVALID_PARAMETER, "add_tag and remove_tag cannot both be empty")
        if any(t not in self._tags for t in [*add, *remove]):
            raise ApiError(INVALID_TAG_ID)
        if not self._known(userid):
            raise ApiError(INVALID_USERID)
        self._learn_friend(customer, userid)
        if userid not in self._friends.get(customer, {}):
            raise ApiError(NO_RELATION)
        marks = self._marks[(userid, customer)]
        marks.update(add)
        marks.difference_update(remove)
        return {}

    def _add_join_way(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        scene = body.get("scene")
        if scene not in (1, 2):
            raise ApiError(INVALID_SCENE, "scene: 1 (mini-program plug-in) or 2 (QR code)")
        chats = strings_of(body.get("chat_id_list"), "chat_id_list")
        if not chats or len(chats) > 5:
            raise ApiError(INVALID_PARAMETER, "chat_id_list: 1 to 5 chat ids")
        config_id = secrets.token_hex(16)
        auto = body.get("auto_create_room", 1)
        self._join_ways[config_id] = {
            "config_id": config_id,
            "scene": scene,
            "remark": str(body.get("remark") or "")[:30],
            "auto_create_room": auto,
            "room_base_name": body.get("room_base_name") or "",
            "room_base_id": body.get("room_base_id") or 0,
            "chat_id_list": chats,
            "qr_code": f"https://wework.qpic.cn/wwpic/{config_id}/0" if scene == 2 else "",
            "state": str(body.get("state") or ""),
        }
        return {"config_id": config_id}

    def _join_way_of(self, body: dict[str, Any]) -> dict[str, Any]:
        config_id = body.get("config_id")
        way = self._join_ways.get(config_id) if isinstance(config_id, str) else None
        if way is None:
            raise ApiError(INVALID_CONFIG_ID)
        return way

    def _get_join_way(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        return {"join_way": dict(self._join_way_of(body))}

    def _groupchat_get(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        """获取客户群详情 (https://developer.work.weixin.qq.com/document/path/96338): the chat's
        owner, its members (type 1 a staff member: the owner; type 2 an external contact) with
        join_time and join_scene (3: 通过扫描群二维码入群), names only with need_name 1."""
        chat = body.get("chat_id")
        if not isinstance(chat, str) or not chat:
            raise ApiError(EMPTY_PARAMETER, "chat_id")
        if chat not in self._chats:
            raise ApiError(NOT_A_CUSTOMER_GROUP, "chat is not external group chat")
        owner = self._chats[chat]
        created = int(self._chat_created.get(chat, 0))
        members: list[dict[str, Any]] = [{"userid": owner, "type": 1, "join_time": created, "join_scene": 1}]
        for customer in self._chat_members.get(chat, []):
            members.append({"userid": customer, "type": 2, "join_scene": 3,
                            "join_time": int(self._joined_at.get((chat, customer), created))})  # fmt: skip
        if body.get("need_name") == 1:
            for m in members:
                m["name"] = m["userid"]
        name = self._chat_names.get(chat, chat)
        return {"group_chat": {"chat_id": chat, "name": name, "owner": owner, "create_time": created, "notice": "",
                               "member_list": members, "admin_list": [],
                               "member_version": hashlib.md5(",".join(self._chat_members.get(chat, [])).encode()
                                                             ).hexdigest()}}  # fmt: skip

    def _del_join_way(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        del self._join_ways[self._join_way_of(body)["config_id"]]
        return {}

    def _message_send(self, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
        if str(body.get("agentid")) != str(self.agent_id):
            raise ApiError(INVALID_AGENTID)
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown", "textcard"):
            raise ApiError(INVALID_MSGTYPE)
        part = body.get(msgtype) or {}
        content = part.get("content") if msgtype != "textcard" else part.get("description")
        if not content:
            raise ApiError(EMPTY_CONTENT)
        if len(str(content).encode("utf-8")) > 2048:
            raise ApiError(CONTENT_TOO_LONG)
        touser = [u for u in str(body.get("touser") or "").split("|") if u]
        if not touser and not body.get("toparty") and not body.get("totag"):
            raise ApiError(NO_RECIPIENT)
        if len(touser) > 1000:
            raise ApiError(INVALID_USER_LIST_SIZE)
        invalid = [u for u in touser if not self._known(u)]
        msgid = secrets.token_urlsafe(24)
        per_minute, per_hour = self.app_message_limits
        for userid in touser:
            if userid in invalid:
                continue
            window = self._delivered[userid]
            while window and window[0] <= now - 3600:
                window.popleft()
            ok = sum(1 for t in window if t > now - 60) < per_minute and len(window) < per_hour
            if ok:
                window.append(now)
            self._app_messages.append(AppMessage(userid, now, msgtype, str(content), msgid, ok))
        return {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "", "unlicenseduser": "",
                "msgid": msgid}  # fmt: skip

    def _upload(self, body: Any, media_type: str | None, now: float, attachment_type: int | None) -> dict[str, Any]:
        if media_type not in MEDIA_LIMITS:
            raise ApiError(INVALID_TYPE)
        if not isinstance(body, _Upload):
            raise ApiError(EMPTY_MEDIA)
        limit, code = MEDIA_LIMITS[media_type]
        if len(body.data) <= 5:  # 所有文件size必须大于5个字节
            raise ApiError(INVALID_FILE_SIZE)
        if len(body.data) > limit:
            raise ApiError(code)
        media_id = "3" + secrets.token_urlsafe(40)
        self._media[media_id] = {
            "type": media_type,
            "created_at": int(now),
            "filename": body.filename,
            "size": len(body.data),
            "sha256": hashlib.sha256(body.data).hexdigest(),
            "attachment_type": attachment_type,
        }
        # the documents show created_at as a string ("1380000000")
        return {"errmsg": "", "type": media_type, "media_id": media_id, "created_at": str(int(now))}

    def _media_upload(self, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
        return self._upload(body, params.get("type"), now, None)

    def _media_upload_attachment(self, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
        kind = params.get("attachment_type")
        if kind not in ("1", "2"):
            raise ApiError(INVALID_PARAMETER, "attachment_type: 1 (moments) or 2 (product album)")
        if kind == "1" and params.get("media_type") not in ("image", "video"):
            raise ApiError(INVALID_TYPE, "moments attachments are images or videos")
        return self._upload(body, params.get("media_type"), now, int(kind))


ROUTES: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "gettoken": ("GET", WeComServer._gettoken),
    "externalcontact/add_msg_template": ("POST", WeComServer._add_msg_template),
    "externalcontact/get_groupmsg_task": ("POST", WeComServer._get_groupmsg_task),
    "externalcontact/get_groupmsg_send_result": ("POST", WeComServer._get_groupmsg_send_result),
    "externalcontact/get_groupmsg_list_v2": ("POST", WeComServer._get_groupmsg_list_v2),
    "externalcontact/cancel_groupmsg_send": ("POST", WeComServer._cancel_groupmsg_send),
    "externalcontact/remind_groupmsg_send": ("POST", WeComServer._remind_groupmsg_send),
    "externalcontact/send_welcome_msg": ("POST", WeComServer._send_welcome_msg),
    "externalcontact/list": ("GET", WeComServer._list_customers),
    "externalcontact/add_moment_task": ("POST", WeComServer._add_moment_task),
    "externalcontact/get_moment_task_result": ("GET", WeComServer._get_moment_task_result),
    "externalcontact/get_moment_task": ("POST", WeComServer._get_moment_task),
    "externalcontact/get_moment_list": ("POST", WeComServer._get_moment_list),
    "externalcontact/cancel_moment_task": ("POST", WeComServer._cancel_moment_task),
    "externalcontact/get_corp_tag_list": ("POST", WeComServer._get_corp_tag_list),
    "externalcontact/add_corp_tag": ("POST", WeComServer._add_corp_tag),
    "externalcontact/del_corp_tag": ("POST", WeComServer._del_corp_tag),
    "externalcontact/mark_tag": ("POST", WeComServer._mark_tag),
    "externalcontact/groupchat/add_join_way": ("POST", WeComServer._add_join_way),
    "externalcontact/groupchat/get_join_way": ("POST", WeComServer._get_join_way),
    "externalcontact/groupchat/del_join_way": ("POST", WeComServer._del_join_way),
    "externalcontact/groupchat/get": ("POST", WeComServer._groupchat_get),
    "message/send": ("POST", WeComServer._message_send),
    "media/upload": ("POST", WeComServer._media_upload),
    "media/upload_attachment": ("POST", WeComServer._media_upload_attachment),
}
ROUTES.update(DIRECTORY_ROUTES)  # the contact sync's endpoints: get_follow_user_list, batch/get_by_user, get


@dataclass(frozen=True)
class _Upload:
    filename: str
    content_type: str
    data: bytes

    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "size": len(self.data), "content_type": self.content_type}


class _BadJson:
    def __repr__(self) -> str:
        return "<invalid JSON>"


def _parse_multipart(content_type: str, raw: bytes) -> _Upload | None:
    """The part named "media" of a multipart/form-data body (stdlib email parser)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            payload = part.get_payload(decode=True) or b""
            return _Upload(part.get_filename() or "", part.get_content_type(), payload)
    return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], wecom: WeComServer) -> None:
        self.wecom = wecom
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "wecom-test-server"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every keep-alive answer back ~40 ms
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        wecom = self.server.wecom
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        endpoint = _norm(split.path)
        body: Any = None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type") or ""
        if raw:
            if ctype.lower().startswith("multipart/form-data"):
                body = _parse_multipart(ctype, raw)
            else:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    body = _BadJson()
        logged = body.summary() if isinstance(body, _Upload) else body
        fault = wecom._take_fault(endpoint)  # at most one injected fault per call
        if fault is not None and fault.kind != "errcode" and not fault.after:
            if fault.kind == "http":
                wecom.log_failed(endpoint, method, params, logged, int(fault.value))
                self._send(int(fault.value), {"errcode": -1, "errmsg": "system busy"})
                return
            time.sleep(fault.value)
        status, doc = wecom.handle(method, endpoint, params, body, fault=fault, logged=logged,
                                   peer=str(self.client_address[0]))  # fmt: skip
        if fault is not None and fault.kind == "slow" and fault.after:
            time.sleep(fault.value)
        if status >= 500:
            doc = {"errcode": -1, "errmsg": "system busy"}
        self._send(status, doc)

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        payload = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass  # quiet: tests read `WeComServer.calls`
