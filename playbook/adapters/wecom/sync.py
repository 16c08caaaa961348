"""Contacts and staff from WeCom (客户联系): what `playbook import --from wecom` and the
daemon's scheduled re-sync read, as plain records for the store's idempotent import.

    sync = WeComSync(client, moment_tags=…, personal_tags=False)
    found = sync.full(known)              # known: contact id → its stored account
    found.accounts, found.contacts, found.gone
    record = sync.one("wmA…", known)      # one customer again (a callback said they changed)

A full sync reads (docs/adapters/wecom.md, "Sync", has the pages):

1. the staff: ``GET externalcontact/get_follow_user_list`` (92571) — the members configured for
   customer contact within the app's visible range; each becomes an account record;
2. the corp tag library: ``POST externalcontact/get_corp_tag_list`` {} (92117), id → name;
3. every customer relation of those members: ``POST externalcontact/batch/get_by_user``
   (92994) with up to 100 userids a call, ``limit`` 100, following ``next_cursor`` to the end —
   always from the first page (WeCom does not return customers in add-time order, so an old
   cursor does not find the new ones);
4. with ``personal_tags``, each customer once with ``GET externalcontact/get`` (92114), the only
   answer that carries personal tags (type 2: batch/get_by_user's ``tag_id`` lists corp tags
   only) — one call per customer.

A customer followed by several members becomes one contact: its account stays the stored one
while that member still follows the customer, else it is the member who added them first
(`createtime`, then userid). `name` is the customer's WeCom name; `remark`, `added_at`
(createtime), `state` (the 「联系我」/获客链接 channel) and `add_way` come from the owning
member's side; `tags` is the union of the tag names every follower put on the customer (corp
tags by name, via the library; personal tags with ``personal_tags``) — except the corp tags the
adapter itself keeps for Moments audiences.

A stored contact is `gone` when its account was read completely (a member in the follow list,
licensed, every page read) and WeCom no longer lists the customer for any member. Members
without an interoperability licence (``fail_info.unlicensed_userid_list``) are reported as
problems and their customers are left as they are.

Calls are paced below WeCom's frequency limit (90454: 10,000 a minute per API and corp; by
default at most `per_minute` = 5,000, leaving room for sending), and a 45009 waits for the next
minute block (up to `patience` times) instead of failing the sync.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from playbook.adapters.base import Synced, TransientError
from playbook.adapters.wecom.client import WeComClient, WeComError
from playbook.i18n import t
from playbook.timetext import span_seconds

MAX_USERIDS = 100  # batch/get_by_user: userid_list ≤ 100 (92994)
PAGE = 100  # batch/get_by_user: limit ≤ 100 (92994)
PER_MINUTE = 5000  # half of WeCom's 10,000 calls a minute per API (90454)
PATIENCE = 5  # 45009 answers waited out per call
NOT_A_CUSTOMER = 84061  # externalcontact/get: no relation with any member
ALL_UNLICENSED = 701008  # batch/get_by_user: none of the members has a licence


def sync_interval(value: Any) -> float | None:
    """The `sync` option: "6h", "30m", "1d", a number of seconds; None/"" / 0: no schedule."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        seconds = span_seconds(value)
        if seconds is not None and seconds >= 60:
            return seconds
    raise ValueError(
        t("the wecom option 'sync' is how often to re-read contacts from WeCom, e.g. \"6h\" (at least 1m)")
    )


class Pacer:
    """At most `per_minute` calls to one endpoint in any 60 seconds (waiting with `sleep`)."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self._calls: dict[str, deque[float]] = defaultdict(deque)

    def wait(self, endpoint: str) -> None:
        calls = self._calls[endpoint]
        now = self.clock()
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if len(calls) >= self.per_minute:
            self.sleep(calls[0] + 60 - now)
            now = self.clock()
            while calls and calls[0] <= now - 60:
                calls.popleft()
        calls.append(now)


class WeComSync:
    """See the module docstring. Not thread-safe: one sync at a time."""

    def __init__(self, client: WeComClient, *, moment_tags: Callable[[], Collection[str]] = frozenset,
                 personal_tags: bool = False, per_minute: int = PER_MINUTE, patience: int = PATIENCE,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        self.client = client
        self.moment_tags = moment_tags  # the adapter's own corp tags (Moments audiences): not customer tags
        self.personal_tags = personal_tags
        self.patience = patience
        self.sleep = sleep
        self.pacer = Pacer(per_minute, clock or client.clock, sleep)
        self.calls: dict[str, int] = defaultdict(int)

    # ---- calls -----------------------------------------------------------------------------------
    def _call(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None,
              body: Any = None) -> dict[str, Any]:  # fmt: skip
        """One paced call; 45009 (and busy answers) waited out up to `patience` times."""
        for attempt in range(self.patience + 1):
            self.pacer.wait(endpoint)
            self.calls[endpoint] += 1
            try:
                return self.client.call(method, endpoint, params=params, body=body)
            except TransientError as exc:
                if exc.retry_after is None or attempt == self.patience:
                    raise
                self.sleep(exc.retry_after)
        raise AssertionError("unreachable")

    def taken(self) -> dict[str, int]:
        taken, self.calls = dict(self.calls), defaultdict(int)
        return taken

    # ---- the full sync -------------------------------------------------------------------------------
    def full(self, known: Mapping[str, str | None]) -> Synced:
        """Staff and every customer relation (see the module docstring). `known`: the stored,
        not deleted contacts → their account. Raises AdapterError when WeCom cannot be read."""
        out = Synced()
        staff = [str(u) for u in self._call("GET", "externalcontact/get_follow_user_list").get("follow_user") or []]
        out.accounts = [{"id": userid} for userid in staff]
        names = self._tag_names()
        own = set(self.moment_tags())
        relations: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(dict)
        unlicensed: set[str] = set()
        for start in range(0, len(staff), MAX_USERIDS):
            chunk = staff[start : start + MAX_USERIDS]
            cursor = ""
            while True:
                try:
                    doc = self._call("POST", "externalcontact/batch/get_by_user",
                                     body={"userid_list": chunk, "cursor": cursor, "limit": PAGE})  # fmt: skip
                except WeComError as exc:
                    if exc.errcode != ALL_UNLICENSED:
                        raise
                    unlicensed.update(chunk)
                    break
                for entry in doc.get("external_contact_list") or []:
                    contact, follow = entry.get("external_contact") or {}, entry.get("follow_info") or {}
                    cid, userid = contact.get("external_userid"), follow.get("userid")
                    if cid and userid:
                        relations[str(cid)][str(userid)] = (contact, follow)
                unlicensed.update(str(u) for u in (doc.get("fail_info") or {}).get("unlicensed_userid_list") or [])
                cursor = str(doc.get("next_cursor") or "")
                if not cursor:
                    break
        if unlicensed:
            out.problems.append(t("WeCom gives no customers of {staff}: no interoperability licence (互通许可); "
                                  "their contacts are left as they are", staff=", ".join(sorted(unlicensed))))  # fmt: skip
        personal: dict[str, dict[str, list[str]]] = {}
        if self.personal_tags:
            for cid in sorted(relations):
                _, got = self._detail(cid)
                personal[cid] = {u: [tag for tag, kind in tags if kind == 2] for u, (_, tags) in got.items()}
        for cid in sorted(relations):
            follows = {u: f for u, (_, f) in relations[cid].items()}
            tags = {
                u: [names[i] for i in f.get("tag_id") or [] if i in names and i not in own] for u, f in follows.items()
            }
            for userid, extra in personal.get(cid, {}).items():
                tags.setdefault(userid, []).extend(extra)
            contact = next(iter(relations[cid].values()))[0]
            out.contacts.append(_record(cid, contact, follows, tags, known.get(cid)))
        complete = set(staff) - unlicensed
        listed = set(relations)
        out.gone = sorted(cid for cid, account in known.items() if account in complete and cid not in listed)
        out.calls = self.taken()
        return out

    def _tag_names(self) -> dict[str, str]:
        """Corp tag id → name (get_corp_tag_list {}: every group; deleted ones left out)."""
        names: dict[str, str] = {}
        for group in self._call("POST", "externalcontact/get_corp_tag_list", body={}).get("tag_group") or []:
            if group.get("deleted"):
                continue
            for tag in group.get("tag") or []:
                if tag.get("id") and tag.get("name") and not tag.get("deleted"):
                    names[str(tag["id"])] = str(tag["name"])
        return names

    # ---- one customer --------------------------------------------------------------------------------
    def _detail(self, cid: str) -> tuple[dict[str, Any], dict[str, tuple[dict[str, Any], list[tuple[str, int]]]]]:
        """externalcontact/get: (external_contact, userid → (follow_user entry, [(tag name,
        type)])), every page; no followers when the customer is nobody's any more (84061)."""
        found: dict[str, tuple[dict[str, Any], list[tuple[str, int]]]] = {}
        contact: dict[str, Any] = {}
        cursor = ""
        own = set(self.moment_tags())
        while True:
            params = {"external_userid": cid, **({"cursor": cursor} if cursor else {})}
            try:
                doc = self._call("GET", "externalcontact/get", params=params)
            except WeComError as exc:
                if exc.errcode == NOT_A_CUSTOMER:
                    return contact, {}
                raise
            contact = doc.get("external_contact") or contact
            for follow in doc.get("follow_user") or []:
                userid = follow.get("userid")
                if not userid:
                    continue
                tags = [(str(tag["tag_name"]), int(tag.get("type") or 1)) for tag in follow.get("tags") or []
                        if tag.get("tag_name") and str(tag.get("tag_id") or "") not in own]  # fmt: skip
                found[str(userid)] = (follow, tags)
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                return contact, found

    def one(self, cid: str, known: Mapping[str, str | None], staff: Iterable[str] | None = None) -> Synced:
        """One customer read again (externalcontact/get): its record, or `gone` when no member
        (of `staff`, when given) has them any more."""
        out = Synced()
        contact, got = self._detail(cid)
        if staff is not None:
            allowed = set(staff)
            got = {u: v for u, v in got.items() if u in allowed}
        if not got:
            out.gone = [cid] if cid in known else []
        else:
            follows = {u: f for u, (f, _) in got.items()}
            tags = {u: [name for name, kind in named if kind == 1 or (kind == 2 and self.personal_tags)]
                    for u, (_, named) in got.items()}  # fmt: skip
            out.contacts.append(_record(cid, contact, follows, tags, known.get(cid)))
        out.calls = self.taken()
        return out


    # ---- messages staff send themselves (个人发表) ----------------------------------------------------
    def staff_sends(self, since: int, until: int, counted: Mapping[str, Collection[str]]) -> dict[str, list[tuple[str, int]]]:
        """The customers who received a mass message a staff member created in the client
        (get_groupmsg_list_v2 filter_type 1, 96355: 个人发表 — sent at once, no confirmation) between
        `since` and `until` (≤ one month apart), by msgid: [(external_userid, send_time)] with
        status 1 (received: it spent their quota), leaving out those in `counted` (msgid → customers
        reported before)."""
        out: dict[str, list[tuple[str, int]]] = {}
        cursor = ""
        tasks: list[tuple[str, str]] = []
        while True:
            doc = self._call("POST", "externalcontact/get_groupmsg_list_v2", body={
                "chat_type": "single", "start_time": since, "end_time": until, "filter_type": 1, "limit": 100,
                "cursor": cursor})  # fmt: skip
            for task in doc.get("group_msg_list") or []:
                if task.get("msgid") and task.get("creator") and task.get("create_type", 1) == 1:
                    tasks.append((str(task["msgid"]), str(task["creator"])))
            cursor = str(doc.get("next_cursor") or "")
            if not cursor:
                break
        for msgid, creator in tasks:
            before = set(counted.get(msgid, ()))
            cursor = ""
            while True:
                doc = self._call("POST", "externalcontact/get_groupmsg_send_result",
                                 body={"msgid": msgid, "userid": creator, "limit": 1000, "cursor": cursor})  # fmt: skip
                for row in doc.get("send_list") or []:
                    customer, send_time = row.get("external_userid"), row.get("send_time")
                    if row.get("status") == 1 and customer and isinstance(send_time, int) and customer not in before:
                        out.setdefault(msgid, []).append((str(customer), send_time))
                cursor = str(doc.get("next_cursor") or "")
                if not cursor:
                    break
        return out


def _record(cid: str, contact: Mapping[str, Any], follows: Mapping[str, Mapping[str, Any]],
            tags: Mapping[str, list[str]], stored_account: str | None) -> dict[str, Any]:  # fmt: skip
    """One contact from its WeCom relations (see the module docstring for the choices)."""

    def added(userid: str) -> tuple[int, str]:
        createtime = follows[userid].get("createtime")
        return (int(createtime) if isinstance(createtime, int | float) else 2**62, userid)

    owner = stored_account if stored_account in follows else min(follows, key=added)
    follow = follows[owner]
    record: dict[str, Any] = {"id": cid, "account": owner}
    name = contact.get("name")
    if isinstance(name, str) and name.strip():
        record["name"] = name.strip()
    for key in ("remark", "state"):
        value = follow.get(key)
        if isinstance(value, str) and value.strip():
            record[key] = value.strip()
    createtime = follow.get("createtime")
    if isinstance(createtime, int) and createtime > 0:
        record["added_at"] = createtime
    add_way = follow.get("add_way")
    if isinstance(add_way, int) and not isinstance(add_way, bool):
        record["add_way"] = add_way
    record["tags"] = sorted({name for names in tags.values() for name in names})
    return record
