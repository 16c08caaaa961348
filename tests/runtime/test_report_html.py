"""`report`'s rates per staff (通过率, 回复率, rotation coverage) defined on a hand-made store
with known outcomes, `report --format html` (runtime/report_html.py) and `report --against
plan.json` (runtime/against.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from playbook.cli.main import cli
from playbook.compiler import compile_path, ir
from playbook.runtime.report import report
from playbook.runtime.rows import EnrolmentRow, Journal, Settlement, TouchRow
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime, iso
from playbook.vocab.model import Event, StateEvent

ROOT = Path(__file__).resolve().parents[2]
T0 = 1796086800  # 2026-12-01 09:00 +08:00
H = 3600
D = 86400
SERVICE = compile_path(ROOT / "playbooks" / "moments_and_service.pb").playbook
NEW = compile_path(ROOT / "playbooks" / "new_customer.pb").playbook
assert SERVICE is not None and NEW is not None
V, VS = NEW.version, SERVICE.version
ROTATION = "朋友圈互动"  # moments_and_service.pb: each contact every 30d


def touch(key: str, account: str, at: int, contact: str | None, *, channel: str = "task", flow: str = ROTATION,
          version: str = VS, audience: list[str] | None = None) -> TouchRow:  # fmt: skip
    return TouchRow(key=key, version=version, flow=flow, step="rotation task", channel=channel, due=at,
                    state="pending", account=account, contact=contact, at=at, content=None, text="点赞",
                    audience=audience, outcome="ok", reason="", next_attempt_at=at)  # fmt: skip


def fill_store(store: Store, clock: Callable[[int], None]) -> None:
    """Two staff accounts, five friends (and one deleted), and events with known outcomes:

    pass rate — n1 asks a1 and is added 10 min later; n2 asks a1 and is never added; n3 asks
    a2 and is added 30 h later; x9's request was rejected.
    reply rate — c1 (a1) writes twice and gets one reply; c2 (a1) got a staff message before
    it wrote, and none after; c4 (a2) writes and gets no reply.
    rotation — a1: c1's task sent, c2's still pending; a2: c5's sent, c4's sent 40 days ago
    (an earlier cycle), c6's sent but c6 is deleted."""
    store.migrate()
    for pb in (NEW, SERVICE):
        store.save_version(ir.to_doc(pb))
        store.activate_version(pb.version)
    store.write(Journal(
        accounts=[{"id": "a1", "name": "小美"}, {"id": "a2", "name": "阿杰"}],
        contacts=[{"id": f"c{i}", "name": f"客{i}", "account": "a1" if i <= 3 else "a2"} for i in range(1, 7)],
        deleted_contacts={"c6"},
        touches=[
            touch("r1", "a1", T0, "c1"),
            touch("r2", "a1", T0 + H, "c2"),  # never dispatched
            touch("r3", "a2", T0 - 40 * D, "c4"),
            touch("r4", "a2", T0, "c5"),
            touch("r5", "a2", T0, "c6"),
            touch("d1", "a1", T0, "c1", channel="dm", flow="新客培育", version=V),
            touch("m1", "a1", T0, None, channel="moment", flow="日常朋友圈", audience=["c1", "c2", "c3"]),
        ],
        enrolments=[
            EnrolmentRow(V, "新客培育", "c1", 1, T0, status="done", goal_at=T0 + 2 * H, segments=["新客"]),
            EnrolmentRow(V, "新客培育", "c2", 1, T0, segments=["新客"]),
        ],
        state_events=[
            StateEvent(T0, "sla_started", "n1", "好友通过", {"deadline": T0 + 1800}, VS),
            StateEvent(T0 + 600, "sla_met", "n1", "好友通过", {"waited_seconds": 600}, VS),
            StateEvent(T0, "sla_started", "c4", "及时回复", {"deadline": T0 + 600}, VS),
            StateEvent(T0 + 600, "sla_missed", "c4", "及时回复", {}, VS),
        ],
    ))  # fmt: skip
    for key, when in (("r1", T0 + 60), ("r3", T0 - 40 * D + 60), ("r4", T0 + 2 * H), ("r5", T0 + 60),
                      ("d1", T0 + 30), ("m1", T0 + 30)):  # fmt: skip
        clock(when)
        assert store.transition([key], ("pending",), "sending", owner="p1", attempts=1) == [key]
        assert store.settle([Settlement(key, "sent", None, adapter="jsonl")], "p1") == []
    seqs = store.append_events([
        Event("friend_request", "n1", T0, {"account": "a1"}),
        Event("friend_added", "n1", T0 + 600, {"account": "a1"}),
        Event("friend_request", "n2", T0 + H, {"account": "a1"}),
        Event("friend_request", "n3", T0, {"account": "a2"}),
        Event("friend_added", "n3", T0 + 30 * H, {"account": "a2"}),
        Event("friend_request", "x9", T0, {"account": "a2"}),  # rejected below
        Event("message", "c1", T0, {}),
        Event("message", "c1", T0 + 60, {}),
        Event("staff_message", "c1", T0 + 300, {}),
        Event("staff_message", "c2", T0 - H, {}),
        Event("message", "c2", T0 + 3 * H, {}),
        Event("message", "c4", T0 + 2 * H, {}),
        Event("moment_interaction", "c2", T0 + 4 * H, {}),
        Event("purchase", "c1", T0 + 2 * H, {"amount": 100}),
        Event("purchase", "c2", T0 + 5 * H, {"amount": 50}),
    ], "file")  # fmt: skip
    store.mark_events(processed=seqs[:5] + seqs[6:], rejected={seqs[5]: "test: rejected"})


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> object:
        import datetime as dt

        return dt.datetime.fromtimestamp(self.t, dt.UTC)

    def set(self, t: int) -> None:
        self.t = t


@pytest.fixture
def db(open_store: Callable[..., Store]) -> Store:
    clock = Clock()
    store = open_store(now=clock)
    fill_store(store, clock.set)
    return store


# ---- each rate's definition, exact figures ---------------------------------------------------------------------


def test_pass_rate_per_staff(db: Store) -> None:
    assert report(db)["pass_rate"] == {
        "asked": 3, "answered": 2, "rate": 0.6667,
        "by_account": {"a1": {"asked": 2, "answered": 1, "rate": 0.5}, "a2": {"asked": 1, "answered": 1, "rate": 1.0}},
    }  # fmt: skip
    # n3 was added after the window's end: not (yet) approved as far as this window goes
    day = report(db, since=T0 - 9 * H, until=T0 + 15 * H)["pass_rate"]
    assert day["by_account"]["a2"] == {"asked": 1, "answered": 0, "rate": 0.0}
    assert (day["asked"], day["answered"]) == (3, 1)
    # a request before the window is not counted, whenever it was approved
    assert report(db, since=T0 + 30 * 60)["pass_rate"]["by_account"] == {"a1": {"asked": 1, "answered": 0, "rate": 0.0}}


def test_reply_rate_per_staff(db: Store) -> None:
    assert report(db)["reply_rate"] == {
        "asked": 4, "answered": 2, "rate": 0.5,
        "by_account": {"a1": {"asked": 3, "answered": 2, "rate": 0.6667}, "a2": {"asked": 1, "answered": 0, "rate": 0.0}},
    }  # fmt: skip
    # the reply came after the window's end: the two messages are not answered in it
    assert report(db, until=T0 + 200)["reply_rate"]["by_account"]["a1"] == {"asked": 2, "answered": 0, "rate": 0.0}


def test_rotation_coverage_per_staff(db: Store) -> None:
    clock = LocalTime(SERVICE.timezone)
    rotation = report(db)["rotations"][ROTATION]
    end = T0 + H + 1  # the window is open: the cycle ends with the newest rotation task (r2)
    assert rotation == {
        "period_days": 30,
        "cycle": {"since": iso(end - 30 * D, clock), "until": iso(end, clock)},
        "by_account": {"a1": {"friends": 3, "covered": 1, "coverage": 0.3333},
                       "a2": {"friends": 2, "covered": 1, "coverage": 0.5}},
    }  # fmt: skip
    # a cycle that ends 10 days before: only the task sent 40 days before T0 was in it
    early = report(db, until=T0 - 10 * D)["rotations"][ROTATION]["by_account"]
    assert early["a2"] == {"friends": 2, "covered": 1, "coverage": 0.5} and early["a1"]["covered"] == 0


# ---- the page --------------------------------------------------------------------------------------------------


def invoke(*args: str, lang: str = "en") -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--lang", lang, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def page(store_url: str, tmp_path: Path, lang: str, *more: str) -> str:
    out = tmp_path / f"report-{lang}.html"
    code, _, err = invoke("report", "--db", store_url, "--format", "html", "--out", str(out), *more, lang=lang)
    assert code == 0, err
    return out.read_text(encoding="utf-8")


EN_SECTIONS = ["Summary", "Pass rate (通过率)", "Reply rate (回复率)", "Service levels", "Interaction rate (互动率)",
               "Conversion (转化率, 转化周期)", "Purchases (客单价)", "Execution per staff"]  # fmt: skip


def test_report_page_sections_figures_and_no_network(db: Store, store_url: str, tmp_path: Path) -> None:
    html = page(store_url, tmp_path, "en")
    assert "<title>新客7天培育 + 朋友圈日历与服务标准</title>" in html
    assert re.findall(r"<h2>([^<]*)</h2>", html) == EN_SECTIONS
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert "<script" not in html and "<link" not in html
    charts = re.findall(r'<div class="chart">(.*?)</svg></div>', html, re.S)
    assert len(charts) == 7  # pass, reply, service levels, the same per staff, rotation, conversion, execution
    assert "Service levels per staff (met / late / missed)" in charts[3]
    for svg in charts:
        assert "<path" in svg or "<rect" in svg
    # the figures of the JSON, and their definitions on the page
    assert "<td>pass rate</td><td>66.7%</td><td>2/3</td>" in html
    assert "<td>reply rate</td><td>50.0%</td><td>2/4</td>" in html
    assert "<td>a1 小美</td><td>2</td><td>1</td><td>50.0%</td>" in html  # a1's pass rate
    assert "<td>a1 小美</td><td>3</td><td>1</td><td>33.3%</td>" in html  # a1's rotation coverage
    assert "<td>average order value</td><td>75.00</td>" in html
    assert "<td>新客培育</td><td></td><td></td><td>2</td><td>1</td><td>50.0%</td><td>2</td>" in html  # 转化周期 2 h
    for definition in ("Pass rate: friend_request events", "Reply rate: message events",
                       "Rotation coverage: the share", "Average order value (客单价):", "Execution: the touches"):
        assert definition in html, definition


def test_report_page_in_chinese(db: Store, store_url: str, tmp_path: Path) -> None:
    from playbook import i18n

    i18n.clear_missing()
    html = page(store_url, tmp_path, "zh")
    assert "<html lang='zh-CN'>" in html
    assert re.findall(r"<h2>([^<]*)</h2>", html) == ["概览", "通过率", "回复率", "服务标准", "互动率", "转化率与转化周期",
                                                    "客单价", "各员工执行情况"]  # fmt: skip
    assert "通过率：这段时间内的好友申请" in html
    assert i18n.missing() == frozenset()


# ---- --against plan.json ---------------------------------------------------------------------------------------

DATA = ["--contacts", str(ROOT / "playbooks" / "contacts.csv"), "--accounts", str(ROOT / "playbooks" / "accounts.csv"),
        "--start", "2026-12-01T00:00", "--days", "2", "--format", "json"]  # fmt: skip


def plan_file(tmp_path: Path, *playbooks: str) -> Path:
    out = tmp_path / "plan.json"
    code, _, err = invoke("plan", *(str(ROOT / "playbooks" / p) for p in playbooks), *DATA, "--out", str(out))
    assert code == 0, err
    return out


def test_against_a_matching_plan(db: Store, store_url: str, tmp_path: Path) -> None:
    plan = plan_file(tmp_path, "new_customer.pb", "moments_and_service.pb")
    doc = json.loads(plan.read_text(encoding="utf-8"))
    code, out, err = invoke("report", "--db", store_url, "--against", str(plan), "--format", "json")
    assert code == 0, err
    report_doc = json.loads(out)
    a = report_doc["against"]
    # the report's window is the plan's
    assert report_doc["window"] == {"since": doc["start"], "until": doc["end"]}
    assert a["plan"] == {"playbook": f"{V}+{VS}", "start": doc["start"], "end": doc["end"]}
    forecast = Counter((t["at"][:10], t["channel"]) for t in doc["touches"] if t["outcome"] != "skipped")
    actual = {("2026-12-01", "task"): 4, ("2026-12-01", "dm"): 1, ("2026-12-01", "moment"): 1}  # r1 r2 r4 r5, d1, m1
    by_day = {(r["day"], r["channel"]): r for r in a["by_day"]}
    assert set(by_day) == set(forecast) | set(actual)
    for key, row in by_day.items():
        assert (row["forecast"], row["actual"]) == (forecast[key], actual.get(key, 0))
        assert row["difference"] == row["actual"] - row["forecast"]
    assert a["touches"] == {"forecast": sum(forecast.values()), "actual": 6, "difference": 6 - sum(forecast.values())}
    journeys = {r["journey"]: r for r in a["journeys"]}
    assert journeys["新客培育"]["entered"] == {"forecast": doc["metrics"]["新客培育"]["entered"], "actual": 2,
                                           "difference": 2 - doc["metrics"]["新客培育"]["entered"]}  # fmt: skip
    assert journeys["新客培育"]["goal"]["actual"] == 1
    accounts = {r["account"]: r for r in a["accounts"]}
    assert (accounts["a1"]["actual"], accounts["a1"]["executed"]) == (4, 3)  # r2 still pending
    assert accounts["a2"]["actual"] == 2  # r3 is 40 days before the plan
    # the terminal and the page show it too
    code, table, _ = invoke("report", "--db", store_url, "--against", str(plan))
    assert code == 0 and "journeys: forecast and actual" in table and f"plan {V}+{VS}" in table
    html = page(store_url, tmp_path, "en", "--against", str(plan))
    assert re.findall(r"<h2>([^<]*)</h2>", html) == [*EN_SECTIONS, "Plan against actuals"]
    assert len(re.findall(r'<div class="chart">', html)) == 8  # the report's 7, and forecast beside actual


def test_against_a_plan_of_another_version_or_no_plan(db: Store, store_url: str, tmp_path: Path) -> None:
    other = plan_file(tmp_path, "presale_group.pb")
    presale = json.loads(other.read_text(encoding="utf-8"))["playbook"]
    code, out, err = invoke("report", "--db", store_url, "--against", str(other))
    assert code == 1 and out == ""
    assert f"{other} was planned from {presale}; the store runs {V} (新客7天培育), {VS} (朋友圈日历与服务标准)" in err
    assert "Traceback" not in err
    code, _, err = invoke("report", "--db", store_url, "--against", str(other), lang="zh")
    assert code == 1 and f"{other} 是按 {presale} 做的计划" in err
    stranger = tmp_path / "config.json"
    stranger.write_text('{\n  "name": "x"\n}\n', encoding="utf-8")
    code, _, err = invoke("report", "--db", store_url, "--against", str(stranger))
    assert code == 1 and f"{stranger} is not a plan's JSON (no version, playbook, start, end, metrics)" in err
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello\n", encoding="utf-8")
    code, _, err = invoke("report", "--db", store_url, "--against", str(garbage))
    assert code == 1 and f"{garbage} is not a plan's JSON (" in err and "Traceback" not in err
    code, _, err = invoke("report", "--db", store_url, "--against", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot read" in err


def test_out_writes_json_or_html_only(db: Store, store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code, shown, _ = invoke("report", "--db", store_url, "--format", "json", "--out", str(out))
    assert code == 0 and shown == ""
    code, printed, _ = invoke("report", "--db", store_url, "--format", "json")
    assert out.read_text(encoding="utf-8") == printed  # the same bytes as on the terminal
    code, _, err = invoke("report", "--db", store_url, "--out", str(tmp_path / "report.txt"))
    assert code == 2 and "--out writes --format json or html" in err


def test_service_levels_per_staff_on_the_page_are_the_reports(db: Store, store_url: str, tmp_path: Path) -> None:
    """The per-staff chart draws `service_levels_by_account`: n1's watch (met) under its
    account, c4's (missed) under its own — the events name no account, so the contact's."""
    by_account = report(db)["service_levels_by_account"]
    cells = {(sla, a): dict(o) for sla, accounts in by_account.items() for a, o in accounts.items()}
    assert sum(o["met"] for o in cells.values()) == 1 and sum(o["missed"] for o in cells.values()) == 1
    html = page(store_url, tmp_path, "en")
    chart = re.findall(r'<div class="chart">(.*?)</svg></div>', html, re.S)[3]
    for (_, account), outcomes in cells.items():
        assert account in chart, account
        for result, n in outcomes.items():
            if n:
                assert f"result: {result}" in chart, (account, result)
