"""End to end: the shared examples in the daemon (Decider + Dispatcher) with the WeCom adapter
against the WeCom-compatible server, on one simulated clock over 8 days — the calls made, the tag
sync before each Moments task, the receipts, the quota; then the same run through faults (token
expiry, 45009 bursts, 5xx and slow answers after the work) where everything still ends and no
customer gets a touch twice. The harness is bench/wecom_calls.py's `simulate`."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from playbook.adapters.capabilities import wecom_limits
from playbook.runtime.rows import TouchRow
from playbook.testing.wecom_server import CHINA, WeComServer

_spec = importlib.util.spec_from_file_location("bench_wecom_calls", Path(__file__).resolve().parents[2] / "bench" /
                                               "wecom_calls.py")  # fmt: skip
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)

DAYS = 8
QUOTA = 2  # the server's monthly quota, below the engine's (days in the month): status 3 shows


def instant(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    result = bench.simulate(tmp_path_factory.mktemp("wecom"), days=DAYS, tick=600, quota_limit=QUOTA)
    yield result
    result.close()


def sent(run: Any, channel: str) -> list[TouchRow]:
    return [r for r in run.store.touches(states=("sent",)) if r.channel == channel]


def ok_calls(run: Any, endpoint: str) -> list[Any]:
    return [c for c in run.server.calls_to(endpoint) if c.errcode == 0 and c.http_status == 200]


def test_every_planned_touch_went_out_once(run: Any) -> None:
    ledger = run.store.touches()
    assert {r.state for r in ledger if r.at is not None and r.at < run.end} <= {"sent", "skipped"}
    went = Counter(t["channel"] for t in run.plan["touches"] if t["outcome"] != "skipped")
    assert Counter(r.channel for r in ledger if r.state == "sent" and r.channel != "tag") == went
    assert len(sent(run, "tag")) == 8 and len(sent(run, "dm")) > 10 and len(sent(run, "moment")) > 40


def test_mass_messages_are_batched_with_the_documented_fields(run: Any) -> None:
    dms, posts = sent(run, "dm"), sent(run, "group")
    same: dict[tuple, list[TouchRow]] = defaultdict(list)
    for r in dms:
        same[(r.account, r.at, r.text, json.dumps(r.parts, sort_keys=True), r.group)].append(r)
    post_groups = {(r.account, r.at, r.text, json.dumps(r.parts, sort_keys=True)) for r in posts}
    calls = ok_calls(run, "add_msg_template")
    assert len(calls) == len(same) + len(post_groups)  # one call per account, content and instant
    single = [c.body for c in calls if c.body["chat_type"] == "single"]
    for rows in same.values():
        assert len({r.adapter_ref for r in rows}) == 1  # one task for the whole group
        (body,) = [b for b in single if sorted(b["external_userid"]) == sorted(r.contact for r in rows)
                   and b["sender"] == rows[0].account and b.get("text", {}).get("content") == rows[0].text]  # fmt: skip
        task = run.server.task(rows[0].adapter_ref)
        assert task.sender == rows[0].account and task.text == rows[0].text
        if rows[0].group:  # an invitation: its instance's join way QR code
            (link,) = body["attachments"]
            assert link["msgtype"] == "link" and link["link"]["url"].startswith("https://")
        if rows[0].parts and rows[0].parts.get("link"):
            assert {"msgtype": "link", "link": {"title": rows[0].parts["title"], "url": rows[0].parts["link"]}} in (
                body["attachments"])  # fmt: skip
    for body in (c.body for c in calls if c.body["chat_type"] == "group"):
        assert body["chat_id_list"] == [f"wrCherryTemplate-{body['sender']}"]
    images = [c.body for c in calls if any(a["msgtype"] == "image" for a in c.body.get("attachments", []))]
    assert images and all(run.server.media(a["image"]["media_id"]) for b in images for a in b["attachments"]
                          if a["msgtype"] == "image")  # fmt: skip
    assert len(ok_calls(run, "media/upload")) == 1  # 预售介绍's image, uploaded once for every account
    assert len(ok_calls(run, "add_join_way")) == 3  # one per group instance (one per account)


def test_moments_audience_tags_are_in_step_before_each_post(run: Any) -> None:
    planned = {(instant(t["at"]), t["account"], t["step"]): sorted(t["audience"]) for t in run.plan["touches"]
               if t["channel"] == "moment" and t["outcome"] != "skipped"}  # fmt: skip
    moments = sent(run, "moment")
    assert len(moments) == len(planned) == len(ok_calls(run, "add_moment_task"))
    for row in moments:
        job = run.server.moment_job((row.adapter_ref or "").removeprefix("moment:"))
        assert job.senders == [row.account] and len(job.tag_list) == 1
        # the server's audience is who carried the tag when the task was created
        assert sorted(job.audience[row.account]) == sorted(row.audience or ()) == planned[(row.at, row.account,
                                                                                          row.step)]  # fmt: skip
    order = [c.endpoint.rsplit("/", 1)[-1] for c in run.server.calls if c.errcode == 0]
    assert order.index("mark_tag") < order.index("add_moment_task")
    images = [r for r in moments if r.parts and r.parts.get("images")]
    assert images and all(run.server.moment_job((r.adapter_ref or "")[7:]).attachments for r in images)


def test_receipts_confirmed_and_quota(run: Any) -> None:
    rows = [*sent(run, "dm"), *sent(run, "group"), *sent(run, "moment")]
    receipts = Counter(r.receipt for r in rows)
    assert set(receipts) == {"confirmed", "quota"} and receipts["quota"] >= 1, receipts
    for r in rows:
        if r.receipt == "confirmed":
            assert r.receipt_at is not None and 0 <= r.receipt_at - (r.at or r.due) <= 3 * 3600
    assert all(r.receipt is None and r.adapter_ref is None for r in [*sent(run, "task"), *sent(run, "tag")])


def test_no_customer_over_the_quota(run: Any) -> None:
    server: WeComServer = run.server
    received = {c: server.received(c) for task in server.tasks for c in task.staff[task.sender].targets}
    assert received
    for times in received.values():
        periods = Counter(server.quota_period(at)[0] for at in times)
        assert all(n <= QUOTA for n in periods.values())
    # and the engine kept to WeCom's own rule (here: 1 a day) in what it handed over
    per_day = Counter((r.contact, dt.datetime.fromtimestamp(r.at or 0, CHINA).date()) for r in sent(run, "dm"))
    assert max(per_day.values()) <= 1 and wecom_limits()[0].count == 1


def test_tasks_reach_staff_and_tags_reach_customers(run: Any) -> None:
    tasks = sent(run, "task")
    messages = run.server.app_messages()
    assert len(messages) == len(tasks) and all(m.delivered for m in messages)
    assert sorted(m.content for m in messages) == sorted(r.text for r in tasks)
    for row in sent(run, "tag"):
        tag = run.server.tag_id(row.text)
        assert tag in run.server.tags_of(row.contact, row.account)


def test_calls_per_day_are_modest(run: Any) -> None:
    counts = Counter(c.endpoint for c in run.calls)
    assert counts["gettoken"] <= DAYS * 24 // 2 + 2  # one token for nearly two hours
    assert sum(counts.values()) / DAYS < 200


FAULTS = [
    (3600 * 8 + 60 * 35, lambda s: s.expire_tokens()),  # day 0, 08:35: every token expires early
    (3600 * 10, lambda s: s.fail_next("add_msg_template", 45009, n=3)),
    (3600 * 19, lambda s: s.fail_http("add_msg_template", 502, n=1, after=True)),  # done, then a 502
    (3600 * 20, lambda s: s.slow("externalcontact/add_msg_template", 1.0, n=1, after=True)),  # done, answer late
    (86400 + 3600 * 8 + 60 * 35, lambda s: s.invalidate_tokens()),
    (86400 + 3600 * 8, lambda s: s.fail_next("add_moment_task", 45009, n=4)),
    (86400 + 3600 * 9, lambda s: s.fail_http("mark_tag", 503, n=3)),
    (86400 * 2 + 3600 * 9, lambda s: s.fail_http("message/send", 500, n=2)),
    (86400 * 3 + 3600 * 7, lambda s: s.slow("externalcontact/add_msg_template", 1.0, n=2, after=True)),
    (86400 * 3 + 3600 * 7, lambda s: s.fail_next("get_groupmsg_send_result", 45009, n=5)),
    (86400 * 4, lambda s: s.expire_tokens()),
    (86400 * 4 + 3600 * 19, lambda s: s.fail_http("add_msg_template", 503, n=2)),
    (86400 * 5 + 3600 * 9, lambda s: s.slow("get_moment_task", 1.0, n=2)),
]


def test_faults_everything_ends_and_nothing_twice(tmp_path: Path) -> None:
    run = bench.simulate(tmp_path, days=DAYS, tick=600, timeout=0.5, faults=FAULTS)
    try:
        server: WeComServer = run.server
        ledger = run.store.touches()
        assert {r.state for r in ledger if r.at is not None and r.at < run.end} <= {"sent", "skipped"}
        failures = [c for c in server.calls if c.errcode not in (0, None) or c.http_status != 200]
        assert {c.errcode for c in failures} >= {42001, 40014, 45009} and any(c.http_status >= 500 for c in failures)
        assert ok_calls(run, "get_groupmsg_list_v2")  # retries after a lost answer looked for the task first
        dms = sent(run, "dm")
        # every customer of every task is one sent dm: none was given the same touch in two tasks
        pairs = Counter((t.sender, t.text, c) for t in server.tasks if t.chat_type == "single"
                        for c in t.staff[t.sender].targets)  # fmt: skip
        assert sum(pairs.values()) == len(dms) and max(pairs.values()) == 1
        for row in dms:
            task = server.task(row.adapter_ref or "")
            assert row.contact in task.staff[row.account or ""].targets and task.text == row.text
        assert len(server.moment_jobs) == len(sent(run, "moment"))
        assert len(server.app_messages()) == len(sent(run, "task"))
        assert all(r.receipt == "confirmed" for r in [*dms, *sent(run, "moment"), *sent(run, "group")])
    finally:
        run.close()
