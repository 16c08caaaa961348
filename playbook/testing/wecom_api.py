"""What the fake WeCom server (`wecom_server.py`) and its customer directory
(`wecom_directory.py`) both answer with: WeCom's error codes and their errmsg, the
mass-message statuses, the tasks of a mass message, and the checks of a list or cursor
parameter. Figures and codes are from the official documents cited in `wecom_server.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = 0
INVALID_SECRET = 40001
INVALID_USERID = 40003
INVALID_FILE_SIZE = 40006
INVALID_MEDIA_ID = 40007
INVALID_MSGTYPE = 40008
INVALID_IMAGE_SIZE = 40009
INVALID_VIDEO_SIZE = 40011
INVALID_CORPID = 40013
INVALID_TOKEN = 40014
INVALID_TYPE = 40005
INVALID_USER_LIST_SIZE = 40032
INVALID_AGENTID = 40056
INVALID_PARAMETER = 40058
EMPTY_PARAMETER = 40063
INVALID_TAG_ID = 40068
JOBID_NOT_FOUND = 40088
TOO_MANY_TAGS = 40126
MISSING_TOKEN = 41001
MISSING_CORPID = 41002
MISSING_SECRET = 41004
MISSING_USERID = 41009
MISSING_EXTERNAL_USERID = 41035
INVALID_SCENE = 41040
INVALID_CONFIG_ID = 41044
MISSING_MSGID = 41046
INVALID_MSGID = 41047
NO_CUSTOMER = 41048
WELCOME_SENT = 41051  # externaluser has started chatting: a welcome already went (92599)
WELCOME_BUSY = 41096  # welcome msg is being distributed: another app is sending one (92599)
API_FORBIDDEN = 48002
IP_NOT_TRUSTED = 60020
INVALID_ATTACHMENT_TYPE = 41065
TOKEN_EXPIRED = 42001
EMPTY_MEDIA = 44001
EMPTY_CONTENT = 44004
CONTENT_TOO_LONG = 45002
RATE_LIMITED = 45009
INVALID_CURSOR = 50100
NO_RECIPIENT = 82001
NO_RELATION = 84061
INVALID_CHAT_TYPE = 86214
NOT_A_CUSTOMER_GROUP = 90501  # "chat is not external group chat" (failed_chat_list in 92127)

ERRMSG = {
    OK: "ok",
    INVALID_SECRET: "invalid credential",
    INVALID_USERID: "invalid userid",
    INVALID_FILE_SIZE: "invalid file size",
    INVALID_MEDIA_ID: "invalid media_id",
    INVALID_MSGTYPE: "invalid message type",
    INVALID_IMAGE_SIZE: "invalid image size",
    INVALID_VIDEO_SIZE: "invalid video size",
    INVALID_CORPID: "invalid corpid",
    INVALID_TOKEN: "invalid access_token",
    INVALID_TYPE: "invalid type",
    INVALID_USER_LIST_SIZE: "invalid userid list size",
    INVALID_AGENTID: "invalid agentid",
    INVALID_PARAMETER: "invalid parameter",
    EMPTY_PARAMETER: "parameter is empty",
    INVALID_TAG_ID: "invalid tagid",
    JOBID_NOT_FOUND: "jobid not found",
    TOO_MANY_TAGS: "corp tag count exceeds 3000",
    MISSING_TOKEN: "access_token missing",
    MISSING_CORPID: "corpid missing",
    MISSING_SECRET: "corpsecret missing",
    MISSING_USERID: "userid missing",
    MISSING_EXTERNAL_USERID: "external_userid missing",
    INVALID_SCENE: "invalid scene",
    INVALID_CONFIG_ID: "invalid config_id",
    MISSING_MSGID: "msgid missing",
    INVALID_MSGID: "invalid msgid",
    NO_CUSTOMER: "no customer to send to",
    WELCOME_SENT: "externaluser has started chatting",
    WELCOME_BUSY: "welcome msg is being distributed",
    API_FORBIDDEN: "api forbidden",
    IP_NOT_TRUSTED: "not allow to access from your ip",
    INVALID_ATTACHMENT_TYPE: "invalid attachment type",
    TOKEN_EXPIRED: "access_token expired",
    EMPTY_MEDIA: "empty media data",
    EMPTY_CONTENT: "empty content",
    CONTENT_TOO_LONG: "content size out of limit",
    RATE_LIMITED: "api freq out of limit",
    INVALID_CURSOR: "invalid cursor",
    NO_RECIPIENT: "touser, toparty and totag are all empty",
    NO_RELATION: "no relation between the staff member and the external contact",
    INVALID_CHAT_TYPE: "invalid chat_type",
}

# mass-message statuses (获取企业群发成员执行结果) and staff task statuses (获取群发成员发送任务列表)
UNSENT, SENT, NOT_FRIEND, OVER_QUOTA = 0, 1, 2, 3
TASK_UNSENT, TASK_SENT = 0, 2


class ApiError(Exception):
    """Answer the call with this errcode (an errmsg, and extra fields such as fail_list)."""

    def __init__(self, errcode: int, errmsg: str | None = None, **extra: Any):
        super().__init__(errmsg or ERRMSG.get(errcode, "error"))
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")
        self.extra = extra


@dataclass
class StaffTask:
    userid: str
    targets: list[str]  # external_userid (single) or chat_id (group), in request order
    status: int = TASK_UNSENT
    send_time: int | None = None
    results: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # target → (status, send_time)


@dataclass
class MsgTask:
    msgid: str
    chat_type: str
    sender: str  # the `sender` the call named ("" when none)
    create_time: int
    text: str
    attachments: list[dict[str, Any]]
    staff: dict[str, StaffTask]
    cancelled: bool = False
    creator: str | None = None  # set for tasks staff made themselves only (96355: not for API tasks)
    create_type: int = 0  # 0 企业发表 (API, admin), 1 个人发表 (a staff member's own)
    reminders: list[int] = field(default_factory=list)  # remind_groupmsg_send calls


def cursor_of(value: Any, total: int) -> int:
    if value in (None, ""):
        return 0
    if not isinstance(value, str) or not value.isdigit() or int(value) > total:
        raise ApiError(INVALID_CURSOR)
    return int(value)


def strings_of(value: Any, name: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(INVALID_PARAMETER, f"{name} must be a list of strings")
    return list(value)
