"""Standing groups (docs/language.md §7.2) in the daemon: the same touches and outcomes as
the plan, also across restarts — the numbered groups and their members come back from the
store (runtime/state.py, flow_state rows of runner `standing:NAME`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.runtime.test_plan_equals_run import compare, plan_doc, run_daemon

PLAYBOOK = """playbook "VIP群"
timezone "Asia/Shanghai"
quiet 22:00-08:00

segment VIP = spent >= 3000

content 邀请 = "{name|亲}，诚邀您加入VIP群"
content 会员价 = "本周会员价"
content 再见 = "{name|亲}，您的会员资格已到期"

group VIP会员群 {
  name "VIP·{account.name}"
  admit in VIP
  size 2
  invite 邀请
  every wed at 20:00: post 会员价
  when not admitted: task "{name}已不满足VIP条件，请确认是否移出群"
  when not admitted: dm 再见
}

journey 邀请 {
  on enter VIP
  reenter after 1d
  invite VIP会员群
}
"""

EVENTS = [
    ("joined_group", "c1", "2026-12-01T11:00:00+08:00", {"group": "VIP会员群"}),
    ("joined_group", "c2", "2026-12-01T12:00:00+08:00", {"group": "VIP会员群/a1/1"}),
    ("joined_group", "c3", "2026-12-01T13:00:00+08:00", {"group": "VIP会员群"}),  # a1/1 full: a1/2
    ("contact_updated", "c2", "2026-12-01T14:00:00+08:00", {"spent": 10}),  # lapses
    ("left_group", "c1", "2026-12-01T15:00:00+08:00", {"group": "VIP会员群"}),
    ("purchase", "c2", "2026-12-03T10:00:00+08:00", {"amount": 5000}),  # qualifies again, still a member
    ("joined_group", "c4", "2026-12-03T11:00:00+08:00", {"group": "VIP会员群"}),  # into a1/1 (room again)
    ("joined_group", "c5", "2026-12-03T12:00:00+08:00", {"group": "VIP会员群"}),  # b1's own chain
]


@pytest.mark.parametrize("restarts", [False, True], ids=["straight", "restarting"])
def test_standing_group_plan_equals_run(tmp_path: Path, restarts: bool, store_url: str) -> None:
    """On SQLite and PostgreSQL (the store_url fixture): the numbered groups live in
    flow_state, no table of their own."""
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "id,name,account,spent\nc1,张一,a1,3500\nc2,李二,a1,4000\nc3,王三,a1,5000\nc4,赵四,a1,100\nc5,钱五,b1,6000\n",
        encoding="utf-8",
    )
    (tmp_path / "accounts.csv").write_text("id,name\na1,小美\nb1,小林\n", encoding="utf-8")
    lines = [json.dumps({"type": k, "contact": c, "at": at, **data}, ensure_ascii=False) for k, c, at, data in EVENTS]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ([str(tmp_path / "p.pb")], str(tmp_path / "contacts.csv"), str(tmp_path / "accounts.csv"),
            str(tmp_path / "events.jsonl"))  # fmt: skip
    planned = plan_doc(*args, "2026-12-01 09:00", 10)
    touches = planned["doc"]["touches"]
    posts = sorted((t["at"][:10], t["group"], t["outcome"]) for t in touches if t["channel"] == "group")
    assert posts == [
        ("2026-12-02", "VIP会员群/a1/1", "ok"), ("2026-12-02", "VIP会员群/a1/2", "ok"),
        ("2026-12-02", "VIP会员群/b1/1", "skipped"),  # invited, nobody joined yet
        ("2026-12-09", "VIP会员群/a1/1", "ok"), ("2026-12-09", "VIP会员群/a1/2", "ok"),
        ("2026-12-09", "VIP会员群/b1/1", "ok"),
    ]  # fmt: skip
    outbox, store = run_daemon(tmp_path, *args, planned["start"], planned["end"], planned["clock"],
                               random.Random(3) if restarts else None, url=store_url)  # fmt: skip
    compare(planned["doc"], planned["end"], outbox, store)
    store.close()


def test_members_the_data_already_shows_take_their_seats(tmp_path: Path) -> None:
    """A contacts file's `groups` column (a set, written like tags) says who is in a group when
    the plan starts: they are seated at activation, not invited again, and posted to."""
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "id,name,account,spent,groups\nc1,张一,a1,3500,VIP会员群\nc2,李二,a1,4000,\nc3,王三,a1,100,VIP会员群；别的群\n",
        encoding="utf-8",
    )
    (tmp_path / "accounts.csv").write_text("id,name\na1,小美\n", encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("", encoding="utf-8")
    args = ([str(tmp_path / "p.pb")], str(tmp_path / "contacts.csv"), str(tmp_path / "accounts.csv"),
            str(tmp_path / "events.jsonl"))  # fmt: skip
    planned = plan_doc(*args, "2026-12-01 09:00", 3)
    doc = planned["doc"]
    seated = [(e["contact"], e["group"]) for e in doc["events"] if e["type"] == "group_joined"]
    assert seated == [("c1", "VIP会员群/a1/1"), ("c3", "VIP会员群/a1/1")]  # in id order, size 2
    invites = {t["contact"]: (t["outcome"], t["reason"]) for t in doc["touches"] if t["step"] == "invite VIP会员群"}
    assert invites["c1"] == ("skipped", "already in group 'VIP会员群'")
    assert invites["c2"][0] != "skipped"
    lapsed = [e["contact"] for e in doc["events"] if e["type"] == "group_lapsed"]
    assert lapsed == ["c3"]  # in the group by the data, but spent 100: not admitted
    outbox, store = run_daemon(tmp_path, *args, planned["start"], planned["end"], planned["clock"], random.Random(5))
    compare(doc, planned["end"], outbox, store)
    store.close()
