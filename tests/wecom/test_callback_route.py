"""WeCom callbacks through the daemon's intake: the adapter's `/wecom/callback` route, called the
way WeCom calls it (the test server's verify_callback_url and send_callback), events in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from playbook.adapters.wecom.adapter import CALLBACK_PATH, WeComAdapter
from playbook.runtime.intake import IntakeConfig, IntakeServer
from playbook.runtime.store import Store
from playbook.testing.wecom_server import WeComServer
from playbook.vocab.localtime import LocalTime

CORP, TOKEN, KEY = "wwcallback001", "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OTHER_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ADDED = {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": 1796000000, "MsgType": "event",
         "Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": "zhangsan",
         "ExternalUserID": "wmNewCustomer", "State": "门店二维码", "WelcomeCode": "WELCOMECODE"}  # fmt: skip


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.store = Store(f"sqlite:///{tmp / 'store.db'}")
        self.store.migrate()
        self.adapter = WeComAdapter(
            {"corp_id": CORP, "base_url": "http://127.0.0.1:9", "state_file": str(tmp / "s.json")},
            {"secret": "app-secret", "callback_token": TOKEN, "callback_aes_key": KEY},
        )
        routes = self.adapter.callbacks(lambda events: self.store.append_events(list(events), "adapter"))
        assert list(routes) == [CALLBACK_PATH]
        self.intake = IntakeServer(self.store, IntakeConfig(port=0, events=False), LocalTime("Asia/Shanghai"), routes)
        self.intake.start()
        self.url = self.intake.url + CALLBACK_PATH
        self.wecom = WeComServer(corp_id=CORP).start()  # only its callback sender is used

    def send(self, event: dict[str, Any], key: str = KEY) -> httpx.Response:
        return self.wecom.send_callback(self.url, TOKEN, key, CORP, event)

    def close(self) -> None:
        self.intake.stop()
        self.wecom.stop()
        self.adapter.close()
        self.store.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path)
    yield s
    s.close()


def test_url_verification(setup: Setup) -> None:
    ok, answer = setup.wecom.verify_callback_url(setup.url, TOKEN, KEY, CORP)
    assert ok and answer.status_code == 200
    wrong, answer = setup.wecom.verify_callback_url(setup.url, "OtherToken", KEY, CORP)
    assert not wrong and answer.status_code == 403 and answer.content == b""


def test_an_event_is_stored_before_the_answer_and_retries_once(setup: Setup) -> None:
    answer = setup.send(ADDED)
    assert answer.status_code == 200 and answer.content == b""
    (event,) = setup.store.next_events()
    assert (event.type, event.contact, event.at) == ("friend_added", "wmNewCustomer", 1796000000)
    assert event.data == {"account": "zhangsan", "state": "门店二维码", "source": "门店二维码", "welcome_code": True}
    assert setup.send(ADDED).status_code == 200  # WeCom's retry of the same callback
    assert len(setup.store.next_events()) == 1
    later = {**ADDED, "CreateTime": 1796000060, "ChangeType": "del_follow_user"}
    assert setup.send(later).status_code == 200
    assert [e.type for e in setup.store.next_events()] == ["friend_added", "deleted"]


def test_callbacks_without_an_event_are_answered_and_store_nothing(setup: Setup) -> None:
    edited = {**ADDED, "ChangeType": "edit_external_contact"}
    assert setup.send(edited).status_code == 200
    assert setup.store.next_events() == []


def test_a_forged_or_altered_callback_is_refused_without_detail(setup: Setup) -> None:
    assert setup.send(ADDED, key=OTHER_KEY).status_code == 403  # another key: the receive id does not decrypt
    forged = httpx.post(setup.url, params={"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2"},
                        content=b"<xml><Encrypt><![CDATA[aGVsbG8=]]></Encrypt></xml>")  # fmt: skip
    assert forged.status_code == 403 and forged.content == b""
    assert setup.store.next_events() == []


def test_no_route_without_the_callback_secrets(tmp_path: Path) -> None:
    adapter = WeComAdapter({"corp_id": CORP, "state_file": str(tmp_path / "s.json")}, {"secret": "x"})
    assert adapter.callbacks(lambda events: None) == {}
