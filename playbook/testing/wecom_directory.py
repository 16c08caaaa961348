"""The WeCom test server's customer directory: the endpoints a contact sync reads.

`WeComServer` mounts these routes (its ROUTES) and keeps one `Directory` as `server.directory`.
The friendships themselves stay the server's (`add_customer`, `remove_friend`, the corp tags
put with `mark_tag`); the directory adds what WeCom knows about each customer and each staff
member's side of the relation (备注, 添加时间, 渠道 state, 来源 add_way, 个人标签):

    server.directory.customer("wmA", "李四", {"zhangsan": Relation(remark="李部长", createtime=t,
                              state="store-qr", add_way=1, personal_tags=["老客户"])})
    server.directory.unlicensed.add("lisi")      # 未获得互通许可 (batch/get_by_user fail_info)
    server.directory.hidden.add("wangwu")        # outside the app's visible range

Each behaviour follows the page cited next to it (developer.work.weixin.qq.com/document/path/N);
where a page is silent the choice is said so.

* ``GET externalcontact/get_follow_user_list`` (92571): ``follow_user``, the userids of the
  members configured for customer contact; "应用仅可获取可见范围内的成员" — hidden members are
  left out.
* ``POST externalcontact/batch/get_by_user`` (92994): ``userid_list`` required, "最多支持100个";
  ``cursor`` "由上一次调用返回，首次调用可不填"; ``limit`` "最大值100，默认值50，超过最大值时取最大值"
  (over the maximum: the maximum — unlike the other list APIs, where our server falls back to the
  default). One entry per (customer, member) relation: ``external_contact`` {external_userid, name,
  type, gender …} and ``follow_info`` {userid, remark, description, createtime, tag_id,
  remark_corp_name, remark_mobiles, oper_userid, add_way, state}; ``tag_id`` lists **corp tags
  only** ("用户自定义类型标签（type=2）不返回"). ``next_cursor`` is empty on the last page.
  Members without a licence are listed in ``fail_info.unlicensed_userid_list`` and the call
  succeeds; when every member asked for is unlicensed the call fails with 701008 *(the code
  via SDK: fudiwei/DotNetCore.SKIT.FlurlHttpClient.Wechat, IWechatWorkApi, which quotes 92994)*.
  Members outside the visible range are skipped ("应用只能获取到可见范围内的成员"; no error is
  documented). The order of customers is not by add time (a WeCom staff answer:
  developers.weixin.qq.com/community/enterprisewechat/doc/000606310802308ec89c7c65c5b800 —
  "不一定是按添加时间顺序返回的，建议是重新获取"): the server keeps its own order, and a
  sync must read every page again rather than resume from an old cursor.
* ``GET externalcontact/get?external_userid=…&cursor=…`` (92114): ``external_contact`` and
  ``follow_user`` [{userid, remark, description, createtime, tags [{group_name, tag_name, type,
  tag_id}], remark_corp_name, remark_mobiles, oper_userid, add_way, state}]; tag ``type`` 1 企业
  设置 (with tag_id), 2 用户自定义 (no tag_id), 3 规则组 (only for the system app: never here);
  ``next_cursor`` when the customer has more than 500 followers ("当跟进人多于500人时返回").
  No external_userid → 41035; not the customer of any visible member → 84061 (全局错误码 90455:
  "不存在外部联系人的关系").

* Staff members' own mass messages (个人发表, 96355): `server.directory.staff_send(userid,
  customers)` sends at once and spends the customers' quota; they are the server's tasks with
  ``create_type`` 1 and a ``creator``, answered by its get_groupmsg_* routes.

The frequency limits (90454: 10,000 calls a minute and 150,000 an hour per API, 45009 beyond)
are the server's, and apply to these endpoints like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from playbook.testing.wecom_api import (
    INVALID_CURSOR,
    INVALID_PARAMETER,
    MISSING_EXTERNAL_USERID,
    NO_RELATION,
    NOT_FRIEND,
    OVER_QUOTA,
    SENT,
    TASK_SENT,
    ApiError,
    MsgTask,
    StaffTask,
    cursor_of,
    strings_of,
)


class WeComServer(Protocol):
    """What the directory uses of the server that mounts it (wecom_server.WeComServer, which
    imports this module: the directory names it by what it uses, not by import)."""

    directory: Directory
    _lock: Any
    _staff: Any
    _friends: dict[str, Any]
    _marks: dict[tuple[str, str], set[str]]
    _tags: dict[str, Any]
    _groups: dict[str, Any]
    _tasks: Any
    _received: Any
    _over_quota: Any

    def clock(self) -> float: ...

    def add_customer(self, external_userid: str, *relations: Any) -> Any: ...

MAX_USERIDS = 100  # batch/get_by_user userid_list (92994)
BATCH_DEFAULT, BATCH_MAX = 50, 100  # batch/get_by_user limit (92994)
FOLLOWERS_PAGE = 500  # externalcontact/get: next_cursor beyond 500 followers (92114)
ALL_UNLICENSED = 701008  # batch/get_by_user: every member asked for is unlicensed (via SDK)


@dataclass
class Relation:
    """One staff member's side of a customer (follow_info / follow_user)."""

    remark: str = ""
    description: str = ""
    createtime: int | None = None  # None: when the directory first saw the relation
    state: str = ""  # the 「联系我」/获客链接 state the customer came through
    add_way: int = 0  # 0 未知来源, 1 扫描二维码, 2 搜索手机号, … (92114 来源定义)
    oper_userid: str = ""
    remark_corp_name: str = ""
    remark_mobiles: list[str] = field(default_factory=list)
    personal_tags: list[str] = field(default_factory=list)  # 个人标签 (type 2): names only


@dataclass
class Profile:
    name: str
    type: int = 1  # 1 微信用户, 2 企业微信用户
    gender: int = 0
    avatar: str = ""


class Directory:
    """What WeCom knows about customers beyond the friendships (see the module docstring)."""

    def __init__(self, server: WeComServer) -> None:
        self.server = server
        self.profiles: dict[str, Profile] = {}
        self.relations: dict[tuple[str, str], Relation] = {}  # (external_userid, userid)
        self.unlicensed: set[str] = set()
        self.hidden: set[str] = set()  # members outside the app's visible range

    def staff_send(self, userid: str, customers: Iterable[str], text: str = "", at: float | None = None) -> str:
        """See the module-level `staff_send`."""
        return staff_send(self.server, userid, customers, text, at)

    def customer(self, external_userid: str, name: str, staff: Mapping[str, Relation] | Iterable[str] = (), *,
                 type: int = 1, gender: int = 0) -> None:  # noqa: A002 (WeCom's field name)  # fmt: skip
        """Declare a customer and (some of) the members who added them; the server's
        friendships are updated (`add_customer`)."""
        relations = staff if isinstance(staff, Mapping) else {u: Relation() for u in staff}
        with self.server._lock:
            self.profiles[external_userid] = Profile(name, type, gender)
            for userid, relation in relations.items():
                if relation.createtime is None:
                    relation.createtime = int(self.server.clock())
                self.relations[(external_userid, userid)] = relation
            if relations:
                self.server.add_customer(external_userid, *relations)

    def relation(self, external_userid: str, userid: str) -> Relation:
        """The relation's details (made on first sight for friendships the server learnt)."""
        with self.server._lock:
            found = self.relations.get((external_userid, userid))
            if found is None:
                found = self.relations[(external_userid, userid)] = Relation(createtime=int(self.server.clock()))
            return found

    # ---- reading the server's world -----------------------------------------------------------
    def _visible_staff(self) -> list[str]:
        return [u for u in sorted(self.server._staff) if u not in self.hidden]

    def _customers_of(self, userid: str) -> list[str]:
        return [c for c, staff in self.server._friends.items() if userid in staff]

    def _contact(self, external_userid: str) -> dict[str, Any]:
        profile = self.profiles.get(external_userid) or Profile(external_userid)
        doc: dict[str, Any] = {"external_userid": external_userid, "name": profile.name, "type": profile.type,
                               "gender": profile.gender}  # fmt: skip
        if profile.avatar:
            doc["avatar"] = profile.avatar
        return doc

    def _corp_tag_ids(self, external_userid: str, userid: str) -> list[str]:
        marks = self.server._marks.get((userid, external_userid), set())
        return sorted(t for t in marks if t in self.server._tags)

    def _follow(self, external_userid: str, userid: str) -> dict[str, Any]:
        r = self.relation(external_userid, userid)
        doc: dict[str, Any] = {"userid": userid, "remark": r.remark, "description": r.description,
                               "createtime": r.createtime, "remark_corp_name": r.remark_corp_name,
                               "remark_mobiles": list(r.remark_mobiles), "oper_userid": r.oper_userid or userid,
                               "add_way": r.add_way}  # fmt: skip
        if r.state:  # 92994/92114: state is present only when the customer came through one
            doc["state"] = r.state
        return doc


def _get_follow_user_list(server: WeComServer, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
    return {"follow_user": server.directory._visible_staff()}


def _batch_get_by_user(server: WeComServer, params: dict[str, str], body: dict[str, Any], now: float) -> dict[str, Any]:
    directory = server.directory
    userids = strings_of(body.get("userid_list"), "userid_list")
    if not userids:
        raise ApiError(INVALID_PARAMETER, "userid_list is required")
    if len(userids) > MAX_USERIDS:  # 92994: 最多支持100个 (no code documented: 40058 with the reason)
        raise ApiError(INVALID_PARAMETER, f"userid_list: at most {MAX_USERIDS}, got {len(userids)}")
    limit = body.get("limit")
    size = BATCH_DEFAULT if not isinstance(limit, int) or limit <= 0 else min(limit, BATCH_MAX)
    visible = [u for u in dict.fromkeys(userids) if u in server._staff and u not in directory.hidden]
    unlicensed = [u for u in visible if u in directory.unlicensed]
    if visible and len(unlicensed) == len(visible):
        raise ApiError(ALL_UNLICENSED, "all the userids are unlicensed")
    rows = [(c, u) for u in visible if u not in directory.unlicensed for c in directory._customers_of(u)]
    cursor = body.get("cursor") or ""
    start = 0
    if cursor:
        if not isinstance(cursor, str) or not cursor.startswith("c") or not cursor[1:].isdigit():
            raise ApiError(INVALID_CURSOR)
        start = int(cursor[1:])
        if start > len(rows):
            raise ApiError(INVALID_CURSOR)
    page = rows[start : start + size]
    end = start + len(page)
    doc: dict[str, Any] = {
        "external_contact_list": [
            {"external_contact": directory._contact(c), "follow_info": {**directory._follow(c, u),
                                                                          "tag_id": directory._corp_tag_ids(c, u)}}
            for c, u in page
        ],
        "next_cursor": f"c{end}" if end < len(rows) else "",
    }  # fmt: skip
    if unlicensed:
        doc["fail_info"] = {"unlicensed_userid_list": unlicensed}
    return doc


def _get(server: WeComServer, params: dict[str, str], body: Any, now: float) -> dict[str, Any]:
    directory = server.directory
    customer = params.get("external_userid")
    if not customer:
        raise ApiError(MISSING_EXTERNAL_USERID)
    followers = [u for u in server._friends.get(customer, {}) if u not in directory.hidden]
    if not followers:
        raise ApiError(NO_RELATION, "not external contact")
    start = cursor_of(params.get("cursor"), len(followers))
    page = followers[start : start + FOLLOWERS_PAGE]
    follow_user = []
    for userid in page:
        doc = directory._follow(customer, userid)
        tags = []
        for tag_id in directory._corp_tag_ids(customer, userid):
            tag = server._tags[tag_id]
            tags.append({"group_name": server._groups[tag["group_id"]]["name"], "tag_name": tag["name"], "type": 1,
                         "tag_id": tag_id})  # fmt: skip
        for name in directory.relation(customer, userid).personal_tags:
            tags.append({"group_name": "", "tag_name": name, "type": 2})  # 92114: no tag_id for type 2
        doc["tags"] = tags
        follow_user.append(doc)
    end = start + len(page)
    out: dict[str, Any] = {"external_contact": directory._contact(customer), "follow_user": follow_user}
    if end < len(followers):
        out["next_cursor"] = str(end)
    return out


ROUTES: dict[str, tuple[str, Any]] = {
    "externalcontact/get_follow_user_list": ("GET", _get_follow_user_list),
    "externalcontact/batch/get_by_user": ("POST", _batch_get_by_user),
    "externalcontact/get": ("GET", _get),
}


# ---- mass messages staff send themselves (个人发表) --------------------------------------------------
# 获取企业的全部群发记录 (96355): "个人发表: 成员自己创建的内容，可直接发送给客户或客户群" — sent at once,
# no confirmation. Kept as the server's own tasks with create_type 1 and a creator (API-made tasks
# have neither), so get_groupmsg_list_v2 (filter_type 1/2), get_groupmsg_task and
# get_groupmsg_send_result answer them as WeCom does. They count toward the customer's quota like
# the company's (创建企业群发 92135: messages created by the company or by staff).


def staff_send(server: WeComServer, userid: str, customers: Iterable[str], text: str = "",
               at: float | None = None) -> str:  # fmt: skip
    """A staff member mass-messages their customers from the client (个人发表): each customer's
    status is decided at once — 2 not their customer, 3 over the quota, else 1 (and it counts
    toward the quota). Returns the msgid."""
    import secrets

    with server._lock:
        when = server.clock() if at is None else at
        targets = list(dict.fromkeys(customers))
        staff = StaffTask(userid, targets, TASK_SENT, int(when))
        for customer in targets:
            if userid not in server._friends.get(customer, {}):
                staff.results[customer] = (NOT_FRIEND, None)
            elif server._over_quota(customer, when):
                staff.results[customer] = (OVER_QUOTA, None)
            else:
                staff.results[customer] = (SENT, int(when))
                server._received[customer].append(when)
        msgid = "msg" + secrets.token_hex(12)
        server._tasks[msgid] = MsgTask(msgid, "single", userid, int(when), text, [], {userid: staff},
                                       creator=userid, create_type=1)  # fmt: skip
        return msgid
