"""WeCom customer-contact callbacks (客户联系 变更回调) → playbook events.

`translate` takes a decrypted callback (the dict `crypto.open_message` returns) and gives
the events it means for playbooks, or none with the reason:

| WeCom | event |
|---|---|
| change_external_contact / add_external_contact | `friend_added` (contact = ExternalUserID; account = UserID, state/source = State) |
| change_external_contact / del_external_contact (staff removed the customer) | `deleted` (by = "staff") |
| change_external_contact / del_follow_user (the customer removed the staff member) | `deleted` (by = "customer") |
| change_external_contact / edit_external_contact | nothing: the callback names no field (read the customer to see what changed) |
| change_external_chat / update / add_member, del_member | `joined_group` / `left_group`, one per id in MemChangeList |
| change_external_tag (create, update, delete, shuffle) | nothing: these describe the corp tag library, never a customer |

`at` is CreateTime (TimeStamp in a third-party app's callbacks, where the event name is in
InfoType). Every other ChangeType is ignored with a reason. A callback only happens for
changes made in the WeCom client or admin console: changes made through the API (our own
mark_tag, for instance) are not called back (变更回调 / 事件格式).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playbook.vocab.model import Event


@dataclass(frozen=True, slots=True)
class Translation:
    """The events one callback gives; `reason` says why there are none (or why something
    in it was left out)."""

    events: tuple[Event, ...] = ()
    reason: str | None = None
    kind: str = ""  # "change_external_contact/add_external_contact", … (for logs)
    extra: dict[str, Any] = field(default_factory=dict)


def _text(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    return value.strip() if isinstance(value, str) else ""


def _at(message: Mapping[str, Any]) -> int | None:
    raw = _text(message, "CreateTime") or _text(message, "TimeStamp")
    try:
        return int(raw)
    except ValueError:
        return None


def _members(raw: Any) -> list[str]:
    """MemChangeList: ``<Item>`` children (current format), or one comma-separated text
    (earlier clients)."""
    if isinstance(raw, list):
        return [m.strip() for m in raw if isinstance(m, str) and m.strip()]
    if isinstance(raw, str):
        return [m.strip() for m in raw.split(",") if m.strip()]
    return []


def translate(message: Mapping[str, Any]) -> Translation:
    """The playbook events of one decrypted WeCom callback (see the module docstring)."""
    kind = _text(message, "Event") or _text(message, "InfoType")
    change = _text(message, "ChangeType")
    label = f"{kind}/{change}" if change else kind
    msg_type = _text(message, "MsgType")
    if msg_type and msg_type != "event":
        return Translation(reason=f"not an event (MsgType {msg_type})", kind=label)
    at = _at(message)
    if at is None:
        return Translation(reason="no CreateTime/TimeStamp in the callback", kind=label)
    if kind == "change_external_contact":
        return _contact(message, change, at, label)
    if kind == "change_external_chat":
        return _chat(message, change, at, label)
    if kind == "change_external_tag":
        return Translation(
            reason="change_external_tag describes the corp tag library (a tag or group created, renamed, "
            "deleted or reordered) and names no customer; a tag put on a customer in the client arrives "
            "as edit_external_contact",
            kind=label,
        )
    return Translation(reason=f"not a customer-contact callback ({kind or 'no Event'})", kind=label)


def _contact(message: Mapping[str, Any], change: str, at: int, label: str) -> Translation:
    contact = _text(message, "ExternalUserID")
    account = _text(message, "UserID")
    if change in ("add_external_contact", "del_external_contact", "del_follow_user", "edit_external_contact"):
        if not contact:
            return Translation(reason=f"{change} without ExternalUserID", kind=label)
    if change == "add_external_contact":
        data: dict[str, Any] = {"account": account}
        state = _text(message, "State")
        if state:  # the 「联系我」/「加入群聊」 state, or a 获客链接's customer_channel: the channel
            data["state"] = state
            data["source"] = state
        # WelcomeCode is a 20-second credential for send_welcome_msg: only its presence goes
        # into the event (it is absent once the customer and staff member have chatted).
        data["welcome_code"] = bool(_text(message, "WelcomeCode"))
        return Translation((Event("friend_added", contact, at, data),), kind=label)
    if change in ("del_external_contact", "del_follow_user"):
        data = {"account": account, "by": "staff" if change == "del_external_contact" else "customer"}
        source = _text(message, "Source")
        if source:  # DELETE_BY_TRANSFER: removed because the customer was handed over
            data["source"] = source
        return Translation((Event("deleted", contact, at, data),), kind=label)
    if change == "edit_external_contact":
        # `contact_updated` sets its data keys as contact fields: {"edited": true} would give
        # every edited customer a bogus field, and the callback says nothing of what changed.
        return Translation(
            reason="edit_external_contact names no field (a remark, description or tag changed in the client); "
            "read the customer (externalcontact/get) to see what changed",
            kind=label,
        )
    if change == "add_half_external_contact":
        return Translation(
            reason="add_half_external_contact: the customer added a staff member who has not accepted yet; "
            "friend_added follows with add_external_contact",
            kind=label,
        )
    if change == "transfer_fail":
        return Translation(reason="transfer_fail: a customer handover failed (no change for playbooks)", kind=label)
    return Translation(reason=f"change_external_contact/{change or '?'} is not used by playbooks", kind=label)


def _chat(message: Mapping[str, Any], change: str, at: int, label: str) -> Translation:
    chat_id = _text(message, "ChatId")
    if change != "update":
        return Translation(reason=f"change_external_chat/{change or '?'}: no member change", kind=label)
    detail = _text(message, "UpdateDetail")
    if detail not in ("add_member", "del_member"):
        return Translation(reason=f"change_external_chat/update/{detail or '?'}: no member change", kind=label)
    members = _members(message.get("MemChangeList"))
    count = _text(message, "MemChangeCnt")
    if not members:
        return Translation(
            reason=f"{detail} in chat {chat_id} without MemChangeList (only MemChangeCnt={count or '?'}): "
            "the callback names nobody; read the chat with groupchat/get to see who joined or left",
            kind=label,
        )
    type_ = "joined_group" if detail == "add_member" else "left_group"
    data: dict[str, Any] = {"chat_id": chat_id}
    scene = _text(message, "JoinScene" if detail == "add_member" else "QuitScene")
    if scene:
        data["join_scene" if detail == "add_member" else "quit_scene"] = int(scene) if scene.isdigit() else scene
    events = tuple(Event(type_, member, at, dict(data)) for member in members)
    extra = {"member_change_count": int(count)} if count.isdigit() else {}
    return Translation(events, kind=label, extra=extra)
