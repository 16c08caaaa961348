"""`playbook status` and `playbook report`: the figures computed from a store filled the way
the daemon fills it, their CLI (tables and stable JSON), and the report's conversion equal
to the plan's metrics over the same run."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from playbook.cli.main import cli
from playbook.compiler import compile_path, ir
from playbook.i18n import set_language
from playbook.runtime.report import journey_metrics, report, status
from playbook.runtime.rows import EnrolmentRow, Journal, Settlement, TimerRow, TouchRow
from playbook.runtime.store import Store
from playbook.vocab.model import Event, StateEvent

ROOT = Path(__file__).resolve().parents[2]
T0 = 1796086800  # 2026-12-01 09:00 +08:00
H = 3600
SERVICE = compile_path(ROOT / "playbooks" / "moments_and_service.pb").playbook
NEW = compile_path(ROOT / "playbooks" / "new_customer.pb").playbook
assert SERVICE is not None and NEW is not None
V, VS = NEW.version, SERVICE.version


class Clock:
    """The store's bookkeeping clock (updated_at of a settled touch = when it was sent)."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(open_store: Callable[..., Store], clock: Clock) -> Store:
    store = open_store(now=clock)
    store.migrate()
    for pb in (NEW, SERVICE):
        store.save_version(ir.to_doc(pb))
        store.activate_version(pb.version)
    return store


def touch(key: str, account: str | None, at: int, *, contact: str | None = "c1", channel: str = "dm",
          outcome: str = "ok", due: int | None = None, reason: str = "", audience: list[str] | None = None,
          flow: str = "新客培育", version: str = V) -> TouchRow:  # fmt: skip
    skipped = outcome == "skipped"
    return TouchRow(key=key, version=version, flow=flow, step="after 5m: dm 欢迎语", channel=channel,
                    due=at if due is None else due, state="skipped" if skipped else "pending", account=account,
                    contact=contact, at=at, content="欢迎语", text="您好", audience=audience, outcome=outcome,
                    reason=reason, next_attempt_at=None if skipped else at)  # fmt: skip


def dispatch(store: Store, clock: Clock, key: str, when: int, state: str, *, error: str | None = None,
             retry: int | None = None, attempts: int = 1) -> None:  # fmt: skip
    """Claim one pending touch and settle it at `when` (the store's clock)."""
    clock.t = when
    assert store.transition([key], ("pending", "failed"), "sending", owner="p1", attempts=attempts) == [key]
    if state == "unknown":  # a crash left it sending; restart could not tell
        assert store.transition([key], "sending", "unknown", error=error) == [key]
        return
    assert store.settle([Settlement(key, state, error, adapter="jsonl", next_attempt_at=retry)], "p1") == []


def fill(store: Store, clock: Clock) -> None:
    """Accounts, contacts, a ledger in every state, events, SLA watches, enrolments."""
    store.write(Journal(
        accounts=[{"id": "a1", "name": "小美"}, {"id": "a2", "name": "阿杰"}, {"id": "a3", "name": "小雨"}],
        contacts=[{"id": f"c{i}", "name": f"客{i}", "account": "a1" if i <= 3 else "a2"} for i in range(1, 7)],
        deleted_contacts={"c6"},
        timers=[TimerRow(1, T0 + 5 * H, 3, ("c1",), "step", (0, "新客培育", "c1", 1, "n2", 0), V),
                TimerRow(2, T0 + 2 * H, 1, (), "tick", ())],
        touches=[
            touch("k1", "a1", T0),  # sent on time
            touch("k2", "a1", T0 + H, due=T0, outcome="deferred", reason="quiet hours 22:00-08:00"),  # sent late
            touch("k3", "a1", T0 + 2 * H, contact="c2"),  # dead
            touch("k4", "a2", T0, contact="c4"),  # sent on time
            touch("k5", "a2", T0 + H, contact="c5"),  # failed, retrying
            touch("k6", "a2", T0 + 2 * H, contact="c5"),  # unknown
            touch("k7", "a3", T0, contact=None, channel="task"),  # still pending
            touch("k8", "a1", T0, contact="c3", outcome="skipped", reason="limit dm 1 per contact per day"),
            touch("k9", None, T0, contact="x9", channel="task", flow="好友通过", version=VS),  # no account: not ranked
            touch("m1", "a1", T0, contact=None, channel="moment", audience=["c1", "c2", "c3"], flow="日常朋友圈",
                  version=VS),
            touch("m2", "a2", T0 + 48 * H, contact=None, channel="moment", audience=["c4", "c5"], flow="日常朋友圈",
                  version=VS),
            touch("m3", "a2", T0, contact=None, channel="moment", audience=["c5"], flow="日常朋友圈", version=VS),
        ],
        enrolments=[
            EnrolmentRow(V, "新客培育", "c1", 1, T0, status="done", goal_at=T0 + 50 * H, segments=["新客"]),
            EnrolmentRow(V, "新客培育", "c2", 1, T0 + H, status="exited", segments=["新客", "高意向"]),
            EnrolmentRow(V, "新客培育", "c3", 1, T0 + 2 * H, goal_at=T0 + 12 * H, segments=["新客"]),
            EnrolmentRow(V, "新客培育", "c4", 1, T0 + 72 * H),
            EnrolmentRow(VS, "VIP升级", "c5", 1, T0, status="done"),
        ],
        state_events=[
            StateEvent(T0, "sla_started", "c1", "好友通过", {"deadline": T0 + 1800}, VS),
            StateEvent(T0 + 600, "sla_met", "c1", "好友通过", {"waited_seconds": 600}, VS),
            StateEvent(T0, "sla_started", "c2", "好友通过", {"deadline": T0 + 1800}, VS),
            StateEvent(T0 + 1800, "sla_missed", "c2", "好友通过", {}, VS),
            StateEvent(T0 + 4000, "sla_late", "c2", "好友通过", {"waited_seconds": 4000}, VS),
            StateEvent(T0 + 10, "sla_started", "c3", "好友通过", {"deadline": T0 + 1810}, VS),  # still open
            StateEvent(T0 + 60, "sla_started", "c4", "及时回复", {"deadline": T0 + 660}, VS),
            StateEvent(T0 + 660, "sla_missed", "c4", "及时回复", {}, VS),
            StateEvent(T0 + 49 * H, "sla_started", "c5", "及时回复", {"deadline": T0 + 49 * H + 600}, VS),
            StateEvent(T0 + 49 * H + 60, "sla_met", "c5", "及时回复", {"waited_seconds": 60}, VS),
        ],
    ))  # fmt: skip
    dispatch(store, clock, "k1", T0 + 30, "sent")
    dispatch(store, clock, "k2", T0 + 3 * H, "sent")
    dispatch(store, clock, "k3", T0 + 2 * H + 5, "dead", error="48002 customer refused")
    dispatch(store, clock, "k4", T0 + H, "sent")  # exactly 1 h after: still on time
    dispatch(store, clock, "k5", T0 + H + 5, "failed", error="timeout", retry=T0 + H + 65, attempts=3)
    dispatch(store, clock, "k6", T0 + 2 * H + 5, "unknown", error="the process stopped during the call")
    for key, when in (("m1", T0 + 10), ("m2", T0 + 48 * H + 10)):
        dispatch(store, clock, key, when, "sent")
    dispatch(store, clock, "m3", T0 + 20, "dead", error="no permission")
    seqs = store.append_events([
        Event("purchase", "c1", T0 + 50 * H, {"amount": 399.0}),
        Event("purchase", "c3", T0 + 12 * H, {"amount": 120}),
        Event("purchase", "c3", T0 + 13 * H, {}),  # no amount: counted, not in the average
        Event("purchase", "x1", T0 + 13 * H, {"amount": 1000}),  # rejected: unknown contact
        Event("moment_interaction", "c1", T0 + 2 * H, {}),
        Event("moment_interaction", "c1", T0 + 3 * H, {}),
        Event("moment_interaction", "c5", T0 + 3 * H, {}),  # c5 saw only a post that failed
        Event("moment_interaction", "c4", T0 + 49 * H, {}),
        Event("message", "c4", T0 + 60, {}),
    ], "file")  # fmt: skip
    store.mark_events(processed=seqs[:3] + seqs[4:8], rejected={seqs[3]: "unknown contact"})


# ---- status -----------------------------------------------------------------------------------------------


def test_status_counts_and_problems(db: Store, clock: Clock) -> None:
    fill(db, clock)
    doc = status(db)
    assert doc["touches"] == {"held": 0, "pending": 2, "sending": 0, "sent": 5, "failed": 1, "skipped": 1,
                              "unknown": 1, "dead": 2}  # fmt: skip
    assert doc["events"] == {"new": 1, "processed": 7, "rejected": 1}
    assert doc["enrolments"] == {"active": 2, "done": 2, "exited": 1}
    assert doc["timers"] == {"pending": 2, "next_due": "2026-12-01T11:00:00+08:00"}
    assert doc["contacts"] == {"total": 6, "deleted": 1} and doc["accounts"] == 3
    assert [v["version"] for v in doc["versions"]] == [V, VS]
    dead = {d["key"]: d for d in doc["dead"]}
    assert dead["k3"]["error"] == "48002 customer refused" and dead["k3"]["contact"] == "c2"
    assert dead["m3"]["error"] == "no permission"
    assert [d["key"] for d in doc["dead"]] == ["k3", "m3"]  # latest first
    errors = {e["key"]: e for e in doc["errors"]}
    assert errors["k5"]["state"] == "failed" and errors["k5"]["attempts"] == 3
    assert errors["k5"]["next_attempt_at"] == "2026-12-01T10:01:05+08:00" and errors["k5"]["error"] == "timeout"
    assert errors["k6"]["state"] == "unknown" and errors["k6"]["next_attempt_at"] is None


def test_status_of_an_empty_store(db: Store) -> None:
    doc = status(db)
    assert doc["timers"] == {"pending": 0, "next_due": None}
    assert set(doc["touches"].values()) == {0} and doc["dead"] == [] and doc["errors"] == []


# ---- report -----------------------------------------------------------------------------------------------


def test_service_levels(db: Store, clock: Clock) -> None:
    fill(db, clock)
    sla = report(db)["service_levels"]
    assert sla["好友通过"] == {
        "trigger": "friend_request", "answer": "friend_added", "within_minutes": 30, "measures": "pass_rate",
        "started": 3, "met": 1, "missed": 1, "late": 1, "open": 1, "in_time_rate": 0.5,
    }  # fmt: skip
    assert sla["及时回复"]["measures"] == "reply_rate"
    assert (sla["及时回复"]["started"], sla["及时回复"]["met"], sla["及时回复"]["missed"]) == (2, 1, 1)
    # The window counts the watches that started in it, and only what became of them inside it.
    early = report(db, until=T0 + 3000)["service_levels"]["好友通过"]
    assert (early["started"], early["met"], early["missed"], early["late"], early["open"]) == (3, 1, 1, 0, 1)
    later = report(db, since=T0 + 3000)["service_levels"]
    assert later["好友通过"]["started"] == 0 and later["好友通过"]["late"] == 0  # its watch began before
    assert later["好友通过"]["in_time_rate"] is None
    assert (later["及时回复"]["started"], later["及时回复"]["met"]) == (1, 1)


def test_interaction_rate(db: Store, clock: Clock) -> None:
    fill(db, clock)
    everything = report(db)["interaction"]
    # the sent posts reached c1-c5 (m3 died); c1, c4 and c5 interacted
    assert everything == {"posts": 2, "reached": 5, "interacted": 3, "interacted_outside_audience": 0,
                          "interaction_rate": 0.6}  # fmt: skip
    # on the first day only m1 went out (to c1-c3): c5's interaction is outside its audience
    first_day = report(db, since=T0, until=T0 + 24 * H)["interaction"]
    assert first_day == {"posts": 1, "reached": 3, "interacted": 1, "interacted_outside_audience": 1,
                         "interaction_rate": 0.3333}  # fmt: skip


def test_conversion_per_journey(db: Store, clock: Clock) -> None:
    fill(db, clock)
    conversion = report(db)["conversion"]
    assert set(conversion) == {"新客培育", "VIP升级"}  # every journey of the active versions
    m = conversion["新客培育"]
    assert (m["entered"], m["goal"], m["conversion"]) == (4, 2, 0.5)
    assert m["median_time_to_goal_hours"] == 30.0  # median of 50 h and 10 h
    assert m["by_segment"] == {"新客": {"entered": 3, "goal": 2}, "高意向": {"entered": 1, "goal": 0}}
    assert conversion["VIP升级"] == {"entered": 1, "goal": 0, "conversion": 0.0, "median_time_to_goal_hours": None,
                                    "by_arm": {}, "by_segment": {}}  # fmt: skip
    # In a window: entries inside it; goals reached before its end.
    day = report(db, since=T0, until=T0 + 24 * H)["conversion"]["新客培育"]
    assert (day["entered"], day["goal"], day["median_time_to_goal_hours"]) == (3, 1, 10.0)


def test_by_arm_labels_as_the_plan() -> None:
    one = journey_metrics([(0, 3600, {"n2": "A"}, []), (0, None, {"n2": "B"}, []), (0, 7200, {"n2": "A"}, [])])
    assert one["by_arm"] == {"A": {"entered": 2, "goal": 2}, "B": {"entered": 1, "goal": 0}}
    assert one["median_time_to_goal_hours"] == 1.5 and one["conversion"] == 0.6667
    two = journey_metrics([(0, None, {"n2": "A", "n5": "B"}, ["x"]), (0, 60, {"n2": "B"}, [])])
    assert two["by_arm"] == {"n2:A": {"entered": 1, "goal": 0}, "n2:B": {"entered": 1, "goal": 1},
                             "n5:B": {"entered": 1, "goal": 0}}  # fmt: skip
    assert journey_metrics([])["conversion"] == 0.0


def test_purchases_and_average_order_value(db: Store, clock: Clock) -> None:
    fill(db, clock)
    assert report(db)["purchases"] == {"purchases": 3, "buyers": 2, "with_amount": 2, "revenue": 519.0,
                                       "average_order_value": 259.5}  # fmt: skip
    assert report(db, until=T0 + 13 * H)["purchases"]["average_order_value"] == 120.0
    assert report(db, since=T0 + 51 * H)["purchases"] == {"purchases": 0, "buyers": 0, "with_amount": 0,
                                                          "revenue": 0.0, "average_order_value": None}  # fmt: skip


def test_execution_leaderboard(db: Store, clock: Clock) -> None:
    fill(db, clock)
    board = report(db)["accounts"]
    assert [r["account"] for r in board] == ["a1", "a2", "a3"]
    a1, a2, a3 = board
    # a1: k1 on time, k2 sent 2 h after it was let go (late), k3 dead, m1 on time; k8 was skipped: not due
    assert a1 == {"account": "a1", "name": "小美", "due": 4, "sent": 3, "on_time": 2, "waiting": 0, "failed": 0,
                  "dead": 1, "unknown": 0, "execution_rate": 0.75, "awaiting_confirmation": 0,
                  "not_executed": 0}  # fmt: skip
    assert (a2["due"], a2["sent"], a2["on_time"], a2["failed"], a2["unknown"], a2["dead"]) == (5, 2, 2, 1, 1, 1)
    assert a2["execution_rate"] == 0.4
    assert (a3["due"], a3["waiting"], a3["execution_rate"]) == (1, 1, 0.0)
    first_hour = report(db, until=T0 + H)["accounts"]
    assert [(r["account"], r["due"], r["execution_rate"]) for r in first_hour] == [
        ("a1", 2, 1.0),
        ("a2", 2, 0.5),
        ("a3", 1, 0.0),
    ]
    # k3 dead, k6 unknown: a tie is broken by the account id
    tie = report(db, since=T0 + 2 * H, until=T0 + 3 * H)["accounts"]
    assert [(r["account"], r["execution_rate"]) for r in tie] == [("a1", 0.0), ("a2", 0.0)]


def test_execution_waits_for_the_platforms_confirmation(db: Store, clock: Clock,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """With an adapter whose platform confirms later (WeCom), sent means handed over:
    executed only once confirmed, on time by the confirmation's time."""
    from playbook.runtime import report as report_module

    monkeypatch.setattr(report_module, "_gives_receipts", lambda adapter: adapter == "confirming")
    db.write(Journal(accounts=[{"id": "a1", "name": "小美"}],
                     touches=[touch(f"w{i}", "a1", T0, contact=f"c{i}") for i in range(1, 5)]))  # fmt: skip
    for i in range(1, 5):
        clock.t = T0
        db.transition([f"w{i}"], "pending", "sent", adapter="confirming", adapter_ref=f"msg{i}")
    db.record_receipts([("w1", "confirmed", T0 + 600), ("w2", "confirmed", T0 + 3 * H), ("w3", "not_friend", None)])
    (a1,) = report(db)["accounts"]
    assert (a1["due"], a1["sent"], a1["on_time"], a1["awaiting_confirmation"], a1["not_executed"]) == (4, 2, 1, 1, 1)
    assert a1["execution_rate"] == 0.5


# ---- the report equals the plan ------------------------------------------------------------------------------


def test_conversion_and_service_levels_equal_the_plan(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan run's enrolments and state events, stored as the daemon stores them, give
    the plan's own metrics back."""
    from playbook.plan import part as plan_part
    from playbook.plan import run as plan_run

    engines = []
    original = plan_part.metric_parts

    def capture(engine):  # type: ignore[no-untyped-def]
        engines.append(engine)
        return original(engine)

    monkeypatch.setattr(plan_part, "metric_parts", capture)  # what plan_part calls
    books = [ROOT / "playbooks" / name for name in ("ab_first_order.pb", "new_customer.pb", "moments_and_service.pb")]
    result = plan_run.run_plan(plan_run.PlanInput(
        [str(p) for p in books], str(ROOT / "playbooks" / "contacts.csv"), str(ROOT / "playbooks" / "accounts.csv"),
        str(ROOT / "playbooks" / "events.jsonl"), "2026-12-01 00:00", 21,
        {"reply": 0.3, "purchase": 0.2, "interaction": 0.2}, 7,
    ))  # fmt: skip
    (engine,) = engines
    journal = Journal(state_events=list(result.events))
    for flows in engine.flows:
        store.save_version(ir.to_doc(flows.program.ir))
        store.activate_version(flows.program.version)
        for name, run in flows.journeys.items():
            for cid, history in run.history.items():
                journal.enrolments += [
                    EnrolmentRow(flows.program.version, name, cid, e.n, e.entered_at, e.status, arms=dict(e.arms),
                                 goal_at=e.goal_at, segments=list(e.segments))
                    for e in history
                ]  # fmt: skip
    store.write(journal)
    got = report(store)
    assert got["conversion"] == result.metrics
    assert any(m["by_arm"] for m in result.metrics.values()) and any(m["goal"] for m in result.metrics.values())
    planned = Counter((e.flow, e.type) for e in result.events if e.type.startswith("sla_"))
    for name, sla in got["service_levels"].items():
        assert (sla["started"], sla["met"], sla["missed"], sla["late"]) == tuple(
            planned[(name, kind)] for kind in ("sla_started", "sla_met", "sla_missed", "sla_late")
        )
    assert sum(s["started"] for s in got["service_levels"].values()) > 0


# ---- the commands -------------------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_status_command(db: Store, clock: Clock, store_url: str) -> None:
    fill(db, clock)
    code, out, _ = invoke("status", "--db", store_url, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc == json.loads(json.dumps(status(db), ensure_ascii=False))
    assert out == json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"  # sorted, stable
    code, table, _ = invoke("status", "--db", store_url)
    assert code == 0
    for text in ("timers pending: 2 (next due 2026-12-01 11:00:00+08:00)", "ledger", "dead letters", "48002 customer refused",
                 "last errors", "timeout"):  # fmt: skip
        assert text in table, text


def test_report_command(db: Store, clock: Clock, store_url: str) -> None:
    fill(db, clock)
    code, out, _ = invoke("report", "--db", store_url, "--since", "2026-12-01", "--until", "2026-12-02 00:00",
                          "--format", "json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc == json.loads(json.dumps(report(db, since=T0 - 9 * H, until=T0 + 15 * H), ensure_ascii=False))
    assert doc["window"] == {"since": "2026-12-01T00:00:00+08:00", "until": "2026-12-02T00:00:00+08:00"}
    assert out == json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    code, again, _ = invoke("report", "--db", store_url, "--since", "2026-12-01", "--until", "2026-12-02 00:00",
                            "--format", "json")  # fmt: skip
    assert again == out
    code, table, _ = invoke("report", "--db", store_url)
    assert code == 0
    for text in (
        "service levels",
        "好友通过",
        "pass rate",
        "friend_request → friend_added",
        "50.0%",
        "conversion",
        "新客培育",
        "新客 2/3",
        "average order value 259.50",
        "execution by account",
        "a1 小美",
        "75.0%",
    ):
        assert text in table, text


def test_report_tables_render_in_chinese(db: Store, clock: Clock) -> None:
    from playbook import i18n
    from playbook.cli.report import render as render_report
    from playbook.cli.status import render as render_status

    fill(db, clock)
    set_language("zh")
    i18n.clear_missing()
    out = Console(file=StringIO(), width=100)
    render_report(report(db), out)
    render_status(status(db), out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "通过率" in text and "回复率" in text and "按账号的执行" in text and "死信" in text
    assert i18n.missing() == frozenset()


def test_bad_options_and_missing_store(tmp_path: Path, db: Store, store_url: str) -> None:
    code, _, err = invoke("report", "--db", store_url, "--since", "yesterday")
    assert code == 1 and "--since: 'yesterday' is not a date or time" in err
    missing = tmp_path / "nowhere.db"
    code, _, err = invoke("status", "--db", str(missing))
    assert code == 1 and "does not exist" in err and not missing.exists()
    empty = tmp_path / "empty.db"
    Store(str(empty)).close()
    empty.touch()
    code, _, err = invoke("report", "--db", str(empty))
    assert code == 1 and "no tables yet" in err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_and_status_fit_80_columns(db: Store, clock: Clock, lang: str) -> None:
    """Tables wrap into parts (the key column repeated) rather than cut their headers."""
    from playbook.cli.report import render as render_report
    from playbook.cli.status import render as render_status
    from playbook.textcells import cell_width

    fill(db, clock)
    set_language(lang)
    out = Console(file=StringIO(), width=80)
    render_report(report(db), out, {"VIP升级"})
    render_status(status(db), out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    too_wide = [line for line in text.splitlines() if cell_width(line) > 80 and line[:1] in "┏┃┡│└"]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in text, text
    headers = ("执行率", "结果未知", "未执行", "待确认") if lang == "zh" else ("execution rate", "not executed")
    for header in headers:  # every header whole, on one line
        assert header in text, header
    assert ("未设目标" if lang == "zh" else "no goal") in text
