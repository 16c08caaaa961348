"""The built-in event types and the Chinese names they also answer to (docs/language.md
§3.3). A playbook's `on 加好友` and an event of type 加好友 are `friend_added`: the language
and every intake (files, `playbook event`, HTTP) read a type through `canonical_event`.

No imports from playbook: the compiler and the data readers both use it.
"""

from __future__ import annotations

BUILTIN_EVENTS = (
    "friend_request", "friend_added", "message", "staff_message", "purchase", "tag_added", "tag_removed",
    "joined_group", "left_group", "moment_interaction", "deleted", "contact_updated",
)  # fmt: skip

# Chinese names an operator writes for the built-in events (documented in docs/language.md §3.3).
EVENT_ALIASES: dict[str, str] = {
    "好友申请": "friend_request",
    "加好友": "friend_added",
    "添加好友": "friend_added",
    "新好友": "friend_added",
    "消息": "message",
    "客户消息": "message",
    "员工消息": "staff_message",
    "购买": "purchase",
    "下单": "purchase",
    "打标签": "tag_added",
    "加标签": "tag_added",
    "移除标签": "tag_removed",
    "去标签": "tag_removed",
    "入群": "joined_group",
    "进群": "joined_group",
    "退群": "left_group",
    "朋友圈互动": "moment_interaction",
    "删除好友": "deleted",
    "删好友": "deleted",
    "客户更新": "contact_updated",
    "资料更新": "contact_updated",
}


def canonical_event(name: str) -> str:
    """A built-in event's own name for one of its Chinese names; any other name as it is."""
    return EVENT_ALIASES.get(name, name)


def label(name: str) -> str:
    """`加好友 (friend_added)`-style: the built-in name with its first Chinese name."""
    for alias, builtin in EVENT_ALIASES.items():
        if builtin == name:
            return f"{alias} ({name})"
    return name
