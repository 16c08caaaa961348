"""WeCom customer-contact callbacks → playbook events, from the example XML of 事件格式
(客户联系 变更回调), sealed and opened through the callback crypto as WeCom would send them."""

from __future__ import annotations

from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.callbacks import translate
from playbook.vocab.model import Event

TOKEN, KEY, CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"

HEAD = (
    "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType>"
)
ADD_EXTERNAL_CONTACT = (
    HEAD + "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
    "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID>"
    "<State><![CDATA[teststate]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
)


def through_crypto(xml: str) -> dict:
    """As the callback endpoint will see it: sealed by the sender, opened with our crypto."""
    query, body = crypto.seal_message(TOKEN, KEY, CORP, xml, timestamp=1403610513, nonce="5")
    return crypto.open_message(TOKEN, KEY, CORP, query["msg_signature"], query["timestamp"], "5", body)


def contact_event(change: str, extra: str = "") -> str:
    return (
        HEAD + f"<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{change}]]></ChangeType>"
        "<UserID><![CDATA[zhangsan]]></UserID>"
        f"<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA]]></ExternalUserID>{extra}</xml>"
    )


def chat_event(change: str, detail: str = "", extra: str = "") -> str:
    return (
        HEAD + "<Event><![CDATA[change_external_chat]]></Event>"
        "<ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>"
        f"<ChangeType><![CDATA[{change}]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>{extra}</xml>"
    )


def test_add_external_contact_is_friend_added() -> None:
    result = translate(through_crypto(ADD_EXTERNAL_CONTACT))
    assert result.reason is None
    assert result.events == (
        Event(
            "friend_added",
            "woAJ2GCAAAXtWyujaWJHDDGi0mAAAA",
            1403610513,
            {"account": "zhangsan", "state": "teststate", "source": "teststate", "welcome_code": True},
        ),
    )
    assert result.kind == "change_external_contact/add_external_contact"


def test_without_state_or_welcome_code() -> None:
    (event,) = translate(through_crypto(contact_event("add_external_contact"))).events
    assert event.data == {"account": "zhangsan", "welcome_code": False}


def test_the_third_party_format_too() -> None:
    xml = (
        "<xml><SuiteId><![CDATA[ww4asffe99e54c0f4c]]></SuiteId><AuthCorpId><![CDATA[wxf8b4f85f3a794e77]]></AuthCorpId>"
        "<InfoType><![CDATA[change_external_contact]]></InfoType><TimeStamp>1403610513</TimeStamp>"
        "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
        "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACH71w]]></ExternalUserID>"
        "<State><![CDATA[teststate]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
    )
    (event,) = translate(through_crypto(xml)).events
    assert (event.type, event.contact, event.at) == ("friend_added", "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w", 1403610513)


def test_deletions_both_ways() -> None:
    (staff,) = translate(
        through_crypto(contact_event("del_external_contact", "<Source><![CDATA[DELETE_BY_TRANSFER]]></Source>"))
    ).events
    assert staff == Event(
        "deleted",
        "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA",
        1403610513,
        {"account": "zhangsan", "by": "staff", "source": "DELETE_BY_TRANSFER"},
    )
    (customer,) = translate(through_crypto(contact_event("del_follow_user"))).events
    assert customer.type == "deleted" and customer.data == {"account": "zhangsan", "by": "customer"}


def test_an_edit_gives_no_event() -> None:
    # contact_updated would set its data as contact fields, and the callback names none
    result = translate(through_crypto(contact_event("edit_external_contact")))
    assert result.events == () and "names no field" in (result.reason or "")


def test_other_contact_changes_are_ignored_with_a_reason() -> None:
    half = translate(through_crypto(contact_event("add_half_external_contact")))
    assert half.events == () and "friend_added follows" in half.reason
    fail = translate(
        through_crypto(contact_event("transfer_fail", "<FailReason><![CDATA[customer_refused]]></FailReason>"))
    )
    assert fail.events == () and "handover" in fail.reason
    other = translate(through_crypto(contact_event("msg_audit_approved")))
    assert other.events == () and "msg_audit_approved" in other.reason


def test_members_joining_and_leaving() -> None:
    joined = translate(
        through_crypto(
            chat_event(
                "update",
                "add_member",
                "<JoinScene>1</JoinScene><QuitScene>0</QuitScene><MemChangeCnt>2</MemChangeCnt>"
                "<MemChangeList><Item><![CDATA[wmJack]]></Item><Item><![CDATA[wmRose]]></Item></MemChangeList>"
                "<LastMemVer>9c3f97c2ada667dfb5f6d03308d963e1</LastMemVer>"
                "<CurMemVer>71217227bbd112ecfe3a49c482195cb4</CurMemVer>",
            )
        )
    )
    data = {"chat_id": "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", "join_scene": 1}
    assert joined.events == (
        Event("joined_group", "wmJack", 1403610513, data),
        Event("joined_group", "wmRose", 1403610513, data),
    )
    assert joined.extra == {"member_change_count": 2}
    # earlier clients sent MemChangeList as one comma-separated text
    left = translate(
        through_crypto(
            chat_event(
                "update", "del_member", "<QuitScene>0</QuitScene><MemChangeList><![CDATA[wmA,wmB]]></MemChangeList>"
            )
        )
    )
    assert [(e.type, e.contact, e.data["quit_scene"]) for e in left.events] == [
        ("left_group", "wmA", 0),
        ("left_group", "wmB", 0),
    ]


def test_a_member_change_without_ids_gives_nothing_and_says_why() -> None:
    result = translate(through_crypto(chat_event("update", "add_member", "<MemChangeCnt>3</MemChangeCnt>")))
    assert result.events == ()
    assert "MemChangeList" in result.reason and "groupchat/get" in result.reason


def test_other_chat_changes_are_ignored() -> None:
    assert "no member change" in translate(through_crypto(chat_event("create"))).reason
    assert "no member change" in translate(through_crypto(chat_event("dismiss"))).reason
    assert "change_name" in translate(through_crypto(chat_event("update", "change_name"))).reason


def test_tag_library_events_name_no_customer() -> None:
    xml = (
        "<xml><ToUserName><![CDATA[CORPID]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        "<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_tag]]></Event><Id><![CDATA[TAG_ID]]></Id>"
        "<TagType><![CDATA[tag]]></TagType><ChangeType><![CDATA[create]]></ChangeType></xml>"
    )
    result = translate(through_crypto(xml))
    assert result.events == () and "names no customer" in result.reason


def test_not_events() -> None:
    text = "<xml><MsgType><![CDATA[text]]></MsgType><CreateTime>1</CreateTime><Content>hi</Content></xml>"
    assert "not an event" in translate(through_crypto(text)).reason
    no_time = HEAD.replace("<CreateTime>1403610513</CreateTime>", "") + "<Event>change_external_contact</Event></xml>"
    assert "CreateTime" in translate(crypto.parse_xml(no_time)).reason
    other = translate(crypto.parse_xml(HEAD + "<Event><![CDATA[click]]></Event></xml>"))
    assert "not a customer-contact callback" in other.reason
