"""Welcome messages (issue 13, item 1): the add_external_contact callback's WelcomeCode is kept
for its 20 seconds, and the greeting of the journey entry that friend_added starts goes through
send_welcome_msg at once (no staff confirmation, no mass-message quota) — else, as before, a
mass-message task. Pages: 92137/92599 发送新客户欢迎语, 92130/96361 添加企业客户事件."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from playbook.adapters.base import DEAD, SENT, Delivery, HttpRequest
from playbook.adapters.wecom import crypto
from playbook.adapters.wecom.adapter import CALLBACK_PATH, WeComAdapter
from playbook.testing.wecom_server import WeComServer, event_xml
from tests.wecom import Clock

CORP, SECRET, TOKEN, KEY = "wwwelcome001", "welcome-secret", "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
T0 = 1_796_000_000


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def server(clock: Clock) -> Iterator[WeComServer]:
    with WeComServer(corp_id=CORP, secret=SECRET, clock=clock) as srv:
        yield srv


class World:
    def __init__(self, server: WeComServer, clock: Clock, tmp: Path) -> None:
        self.server, self.clock = server, clock
        self.adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp / "s.json")},
                                    {"secret": SECRET, "callback_token": TOKEN, "callback_aes_key": KEY},
                                    clock=clock)  # fmt: skip
        self.adapter.open()
        self.events: list[Any] = []
        self.route = self.adapter.callbacks(self.events.extend)[CALLBACK_PATH]

    def added(self, contact: str, account: str = "zhangsan", *, welcome: bool = True) -> str | None:
        """The customer adds the staff member: WeCom calls back (add_external_contact)."""
        code = self.server.add_external_contact(contact, account, welcome=welcome)
        fields = {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": int(self.clock.t), "MsgType": "event",
                  "Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": account,
                  "ExternalUserID": contact, "State": "门店二维码"}  # fmt: skip
        if code:
            fields["WelcomeCode"] = code
        query, body = crypto.seal_message(TOKEN, KEY, CORP, event_xml(fields), timestamp=int(self.clock.t))
        answer = self.route(HttpRequest("POST", CALLBACK_PATH, query, body.encode("utf-8")))
        assert answer.status == 200
        return code

    def greeting(self, contact: str, *, due: float | None = None, key: str = "g", text: str = "欢迎！",
                 parts: dict[str, Any] | None = None) -> Delivery:  # fmt: skip
        at = int(self.clock.t if due is None else due)
        return Delivery(key=key, version="pb-1", flow="新客培育", step="dm 欢迎语", channel="dm", account="zhangsan",
                        contact=contact, group=None, audience=None, content="欢迎语", text=text, parts=parts, at=at,
                        due=at, attempt=1)  # fmt: skip


@pytest.fixture
def world(server: WeComServer, clock: Clock, tmp_path: Path) -> Iterator[World]:
    w = World(server, clock, tmp_path)
    yield w
    w.adapter.close()


def test_a_greeting_due_at_once_goes_as_the_welcome(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    code = world.added("wmNew")
    (event,) = world.events
    assert event.type == "friend_added" and event.data["welcome_code"] is True  # the presence, not the code
    world.clock.t += 3  # the daemon decides and dispatches within seconds
    (result,) = world.adapter.send([world.greeting("wmNew", due=event.at)])
    assert result.status == SENT and (result.ref or "").startswith("welcome:")
    (welcome,) = world.server.welcomes("wmNew")
    assert welcome.text == "欢迎！" and not world.server.calls_to("add_msg_template")
    assert world.server.received("wmNew") == []  # no mass-message quota spent
    (receipt,) = world.adapter.receipts([_with_ref(world.greeting("wmNew", due=event.at), result.ref)])
    assert receipt.status == "confirmed"
    assert code and all(code not in r.getMessage() for r in caplog.records)  # never logged
    assert code not in Path(world.adapter.state_path).read_text(encoding="utf-8")  # used: gone from the state file


def _with_ref(d: Delivery, ref: str | None) -> Delivery:
    from dataclasses import replace

    return replace(d, ref=ref)


def test_a_dm_of_another_entry_does_not_take_the_code(world: World) -> None:
    world.added("wmBusyDay")
    event_at = world.events[0].at
    world.clock.t += 3  # a campaign dm due ten minutes ago (deferred) goes out now, the code still alive
    (campaign,) = world.adapter.send([world.greeting("wmBusyDay", due=event_at - 600, key="c", text="双12")])
    assert not (campaign.ref or "").startswith("welcome:")
    (greeting,) = world.adapter.send([world.greeting("wmBusyDay", due=event_at)])  # the entry's greeting still can
    assert (greeting.ref or "").startswith("welcome:")


def test_a_greeting_timed_later_than_the_code_lives_is_a_task(world: World) -> None:
    world.added("wmLater")
    event_at = world.events[0].at
    world.clock.t += 300
    (result,) = world.adapter.send([world.greeting("wmLater", due=event_at + 300)])  # after 5m: dm 欢迎语
    assert result.status == SENT and not (result.ref or "").startswith("welcome:")
    assert world.server.welcomes() == [] and len(world.server.calls_to("add_msg_template")) == 1


def test_an_expired_code_falls_back_to_a_task(world: World) -> None:
    world.added("wmSlow")
    event_at = world.events[0].at
    world.clock.t += 25  # the daemon was busy: the code has died
    (result,) = world.adapter.send([world.greeting("wmSlow", due=event_at)])
    assert result.status == SENT and not (result.ref or "").startswith("welcome:")
    assert world.server.welcomes() == []


def test_already_welcomed_is_final(world: World) -> None:
    code = world.added("wmTwice")
    other = httpx.Client(base_url=world.server.url)  # another app uses the code first (92599)
    token = other.get("/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET}).json()["access_token"]
    other.post("/cgi-bin/externalcontact/send_welcome_msg", params={"access_token": token},
               json={"welcome_code": code, "text": {"content": "别家的欢迎语"}})  # fmt: skip
    world.clock.t += 2
    (result,) = world.adapter.send([world.greeting("wmTwice", due=world.events[0].at)])
    assert result.status == DEAD and "41051" in (result.error or "")
    assert not world.server.calls_to("add_msg_template")  # not retried as a task either


def test_a_transient_error_is_retried_within_the_20_seconds(world: World) -> None:
    world.added("wmBusy")
    world.server.fail_next("send_welcome_msg", 41096)  # another app is sending one (92599): may be retried
    (result,) = world.adapter.send([world.greeting("wmBusy", due=world.events[0].at)])
    assert result.status == SENT and (result.ref or "").startswith("welcome:")
    assert len(world.server.calls_to("send_welcome_msg")) == 2


def test_no_code_when_the_admin_set_a_welcome(world: World) -> None:
    world.added("wmAdmin", welcome=False)
    assert world.events[0].data["welcome_code"] is False
    (result,) = world.adapter.send([world.greeting("wmAdmin", due=world.events[0].at)])
    assert result.status == SENT and not (result.ref or "").startswith("welcome:")


def test_the_code_is_used_once_by_the_first_greeting_only(world: World) -> None:
    world.added("wmOne")
    at = world.events[0].at
    first, second = world.adapter.send([world.greeting("wmOne", due=at, key="g1"),
                                        world.greeting("wmOne", due=at, key="g2", text="第二句")])  # fmt: skip
    assert (first.ref or "").startswith("welcome:") and not (second.ref or "").startswith("welcome:")
    assert len(world.server.welcomes()) == 1


def test_send_welcome_carries_attachments(world: World, tmp_path: Path) -> None:
    world.added("wmPic")
    (result,) = world.adapter.send([world.greeting("wmPic", due=world.events[0].at,
                                                   parts={"link": "https://example.com/story", "title": "品牌故事"})])  # fmt: skip
    assert result.status == SENT
    (welcome,) = world.server.welcomes("wmPic")
    assert welcome.attachments == [{"msgtype": "link", "link": {"title": "品牌故事", "url": "https://example.com/story"}}]


# ---- the language side: check --adapter wecom and the quiet-hours choice ---------------------------------
PLAYBOOK = """playbook "欢迎"
timezone "Asia/Shanghai"
{quiet}
content 欢迎语 = "{{name|亲}}您好！"

journey 新客 {{
  on friend_added
  {first}dm 欢迎语
}}
"""


@pytest.mark.parametrize(
    ("quiet", "first", "codes"),
    [
        ("quiet 22:00-08:00", "", {"welcome-quiet-hours"}),  # at once: quiet hours still hold it (the choice)
        ("", "", {"no-quiet-hours"}),
        ("quiet 22:00-08:00", "after 1m: ", {"adapter-welcome"}),  # a minute: already past the 20 s
        ("quiet 22:00-08:00", "after 5m: ", {"adapter-welcome"}),  # later than the code lives
        ("quiet 22:00-08:00", "day 1 at 10:00: ", {"adapter-welcome"}),
    ],
)
def test_welcome_lints(tmp_path: Path, quiet: str, first: str, codes: set[str]) -> None:
    from playbook.adapters.capabilities import unsupported
    from playbook.adapters.registry import capabilities_of
    from playbook.compiler import compile_path

    source = tmp_path / "welcome.pb"
    source.write_text(PLAYBOOK.format(quiet=quiet, first=first), encoding="utf-8")
    result = compile_path(str(source))
    assert result.doc is not None
    found = {d.code for d in result.warnings} | {d.code for d in unsupported(result.doc, capabilities_of("wecom"),
                                                                              "wecom", str(source))}  # fmt: skip
    assert found == codes


def test_explain_says_which_way_each_welcome_went() -> None:
    from types import SimpleNamespace

    from playbook.runtime.explain import _via, touch_sentence

    def row(ref: str, state: str = "sent") -> Any:
        return SimpleNamespace(adapter_ref=ref, state=state, channel="dm", adapter="wecom")

    assert _via(row("welcome:1796000003")) == "welcome" and _via(row("msg0123")) == "task"
    assert _via(row("msg0123", "pending")) is None
    base = {"state": "sent", "outcome": "ok", "sent_at": "2026-11-30T08:53:23+08:00", "on_time": True}
    assert "welcome message" in touch_sentence({**base, "via": "welcome"})
    assert "mass-message task" in touch_sentence({**base, "via": "task"})
    assert "expired" in touch_sentence({**base, "via": "task", "receipt": "expired"})
    held = {"state": "pending", "outcome": "ok", "at": "2026-11-30T08:53:23+08:00", "error": "WeCom blocked: x"}
    assert "WeCom blocked: x" in touch_sentence(held)


def test_the_daemon_path_greets_through_the_welcome(world: World, tmp_path: Path) -> None:
    """Callback → event in the store → the engine's untimed first step → dispatch → send_welcome_msg."""
    from playbook.runtime.decide import Decider
    from playbook.runtime.dispatch import Dispatcher
    from playbook.runtime.store import Store

    source = tmp_path / "welcome.pb"
    source.write_text(PLAYBOOK.format(quiet="", first=""), encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    world.route = world.adapter.callbacks(lambda events: store.append_events(list(events), "adapter"))[CALLBACK_PATH]
    caps = world.adapter.capabilities
    decider = Decider(store, [str(source)], shared_limits=caps.limits, can_dissolve_groups=caps.dissolve_groups,
                      sync_tags=caps.tags)  # fmt: skip
    decider.load(int(world.clock.t))
    dispatcher = Dispatcher(store, world.adapter, owner="d", clock=world.clock)
    world.added("wmDaemon")
    world.clock.t += 2
    decider.step(int(world.clock.t))
    dispatcher.run_once(world.clock.t)
    dispatcher.close()
    (row,) = [r for r in store.touches() if r.channel == "dm"]
    assert row.state == "sent" and (row.adapter_ref or "").startswith("welcome:")
    (welcome,) = world.server.welcomes("wmDaemon")
    assert welcome.text.endswith("您好！") and not world.server.calls_to("add_msg_template")
    store.close()
