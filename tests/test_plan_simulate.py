"""`plan --simulate` rates (plan/simulate.py): new contacts and events of contacts arriving
at N a day — how many each day, when, who, the same for the same seed — what the plan says
it drew, the A/B sample-size warning (plan/abtest.py) and `--show-skipped` (plan/notes.py);
a golden of a small simulated plan in English, Chinese and JSON
(tests/golden/simulate/new_friends_ab/)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, check_golden

from playbook.diagnostics import PlaybookError
from playbook.plan.abtest import BASELINE, needed_per_arm, sample_warnings
from playbook.plan.jsonwriter import to_json
from playbook.plan.run import JourneyCounts, PlanInput, load_checked, run_plan
from playbook.plan.simulate import Arrival, arrival_times, day_counts, parse_simulation
from playbook.vocab.localtime import LocalTime

CASE = GOLDEN / "simulate" / "new_friends_ab"
CLOCK = LocalTime("Asia/Shanghai")
DEC1 = CLOCK.instant(dt.datetime(2026, 12, 1))
SIMULATE = "friend_added=4/day,tag_added[tag=问过价格]=1.5/day,reply=0.3,purchase=0.3"  # as the golden's header says


def spec(simulate: str = SIMULATE, seed: int = 3, days: int = 3, **kw: str | None) -> PlanInput:
    sim = parse_simulation(simulate)
    files = {"contacts": str(CASE / "contacts.csv"), "accounts": str(CASE / "accounts.csv"), **kw}
    return PlanInput([str(CASE / "playbook.pb")], start="2026-12-01 00:00", days=days, simulate=sim.odds, seed=seed,
                     arrivals=sim.arrivals, **files)  # type: ignore[arg-type]  # fmt: skip


# ---- reading the option ------------------------------------------------------------------------


def test_rates_and_probabilities_side_by_side() -> None:
    sim = parse_simulation("reply=0.3,friend_added[source=门店二维码,account=a1]=30/day,加好友=0.5/day,"
                           "tag_added[tag=问过价格]=2 / day")  # fmt: skip
    assert sim.odds == {"reply": 0.3}
    assert sim.arrivals == (
        Arrival("friend_added", (("source", "门店二维码"), ("account", "a1")), 30.0),
        Arrival("friend_added", (), 0.5),  # the Chinese name is the built-in event
        Arrival("tag_added", (("tag", "问过价格"),), 2.0),
    )
    assert sim.arrivals[0].key == "friend_added[source=门店二维码,account=a1]"
    assert parse_simulation("reply=0.3,purchase=0.05").arrivals == ()
    assert parse_simulation(None).odds == {} and parse_simulation("").arrivals == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("friend_added=abc/day", "the rate in 'friend_added=abc/day' must be a number of events a day"),
        ("friend_added=-2/day", "must be a number of events a day, such as 30/day or 0.5/day"),
        ("friend_added=inf/day", "must be a number of events a day"),
        ("reply=3/day", "'reply=3/day' — a rate is TYPE=N/day with TYPE one of friend_added, message"),
        ("friend_request=3/day", "a rate is TYPE=N/day"),
        ("tag_added=3/day", "tag_added needs tag=… in brackets, such as tag_added[tag=问过价格]=5/day"),
        ("friend_added[source]=3/day", "write the fields in brackets as FIELD=VALUE, separated by commas"),
        ("friend_added[source=x=3/day", "write the fields in brackets as FIELD=VALUE"),
        ("friend_added[]=3/day", "write the fields in brackets as FIELD=VALUE"),
        ("reply=2", "the probability for reply must be a number from 0 to 1"),
        ("reply[x=1]=0.3", "use KEY=PROBABILITY with KEY one of reply, purchase, delete, interaction"),
    ],
)
def test_bad_input_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_simulation(text)
    assert says in caught.value.diagnostics[0].message


# ---- how many, when ---------------------------------------------------------------------------


def test_day_counts_keep_the_rate() -> None:
    assert day_counts(30, 5, 0.7) == [30] * 5
    assert day_counts(0.5, 6, 0.2) == [0, 1, 0, 1, 0, 1]  # one every other day
    assert day_counts(0, 4, 0.9) == [0, 0, 0, 0]
    for rate in (0.3, 1.25, 2.4, 7.9):
        for phase in (0.0, 0.31, 0.99):
            counts = day_counts(rate, 10, phase)
            assert set(counts) <= {int(rate), int(rate) + 1}  # each day ⌊N⌋ or ⌈N⌉
            assert int(rate * 10) <= sum(counts) <= int(rate * 10) + 1


def test_times_are_spread_over_the_day_the_same_for_the_same_seed() -> None:
    arrival = Arrival("friend_added", (), 30.0)
    end = DEC1 + 7 * 86400
    times = arrival_times(arrival, 1, CLOCK, DEC1, end)
    assert times == arrival_times(arrival, 1, CLOCK, DEC1, end)
    assert times != arrival_times(arrival, 2, CLOCK, DEC1, end)
    assert times == sorted(times)
    per_day = Counter(CLOCK.local(x).date() for x in times)
    assert list(per_day.values()) == [30] * 7
    hours = [CLOCK.local(x).hour for x in times]
    assert min(hours) >= 8 and max(hours) < 22
    assert len({h for h in hours}) >= 12  # spread, not bunched
    # a plan starting at noon keeps the afternoon's only, the same instants
    noon = DEC1 + 12 * 3600
    assert arrival_times(arrival, 1, CLOCK, noon, end) == [x for x in times if x >= noon]


# ---- a plan with rates --------------------------------------------------------------------------


def test_new_contacts_enter_the_new_customer_journey() -> None:
    result = run_plan(spec())
    added = [e for e in result.inputs if e.type == "friend_added"]
    assert len(added) == 12 and [e.contact for e in added] == [f"sim-{n:04d}" for n in range(1, 13)]
    assert {e.data["account"] for e in added} <= {"a1", "a2"} and len({e.data["account"] for e in added}) == 2
    assert {e.data["source"] for e in added} <= {"门店二维码", "直播间"}  # what the playbook's entry names
    assert all(e.data["name"] and e.data["simulated"] for e in added)
    assert result.metrics["新客欢迎"]["entered"] == 12
    assert result.drawn is not None
    assert sum(n for (_, kind), n in result.drawn.items() if kind == "friend_added") == 12
    assert sum(n for (_, kind), n in result.drawn.items() if kind == "tag_added") == 4  # 1.5/day over 3 days
    tagged = [e for e in result.inputs if e.type == "tag_added"]
    assert all(e.data["tag"] == "问过价格" for e in tagged)


def test_same_inputs_same_plan_and_one_key_does_not_move_another() -> None:
    assert to_json(run_plan(spec())) == to_json(run_plan(spec()))
    assert to_json(run_plan(spec(seed=4))) != to_json(run_plan(spec()))

    def added(text: str) -> list[tuple[int, str, str]]:
        result = run_plan(spec(text))
        return [(e.at, e.contact, e.data["account"]) for e in result.inputs if e.type == "friend_added"]

    assert added("friend_added=4/day") == added("friend_added=4/day,message=3/day,reply=0.5")


def test_ids_never_collide_with_the_data(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,account\nsim-0001,真的客户,a1\nsim2-x,另一个,a2\n", encoding="utf-8")
    result = run_plan(spec("friend_added=2/day", contacts=str(contacts)))
    added = [e.contact for e in result.inputs if e.type == "friend_added"]
    assert added[:2] == ["sim3-0001", "sim3-0002"]
    assert result.contacts.fields["sim-0001"]["name"] == "真的客户"


def test_brackets_set_account_source_and_fields() -> None:
    result = run_plan(spec("friend_added[source=直播间,account=a2,city=上海]=3/day"))
    added = [e for e in result.inputs if e.type == "friend_added"]
    assert len(added) == 9 and {(e.data["account"], e.data["source"], e.data["city"]) for e in added} == {
        ("a2", "直播间", "上海")
    }
    assert result.contacts.fields["sim-0001"]["city"] == "上海"  # the new contact's field


def test_events_of_contacts_already_there_and_of_new_ones() -> None:
    result = run_plan(spec("message=20/day,purchase[amount=299]=2/day,friend_added=20/day", days=2))
    messages = [e for e in result.inputs if e.type == "message"]
    assert len(messages) == 40
    who = {e.contact for e in messages}
    assert who & {"c1", "c2", "c3", "c4"} and any(c.startswith("sim-") for c in who)
    added_at = {e.contact: e.at for e in result.inputs if e.type == "friend_added"}
    assert all(e.at > added_at[e.contact] for e in messages if e.contact in added_at)  # never before it was added
    assert {e.data["amount"] for e in result.inputs if e.type == "purchase"} == {299}


def test_new_contacts_need_an_account(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name\nc1,无账号\n", encoding="utf-8")
    with pytest.raises(PlaybookError) as caught:
        run_plan(spec("friend_added=1/day", contacts=str(contacts), accounts=None))
    assert "needs a staff account for its new contacts: give --accounts" in caught.value.diagnostics[0].message


def test_rates_plan_in_one_process_the_same_plan() -> None:
    one = run_plan(spec(days=5))
    two = run_plan(dataclasses.replace(spec(days=5), workers=2))
    assert to_json(two) == to_json(one)


def test_without_rates_the_json_has_no_new_keys() -> None:
    doc = json.loads(to_json(run_plan(spec("reply=0.3,purchase=0.3"))))
    assert "simulated" not in doc  # the JSON of probabilities alone is as it was
    doc = json.loads(to_json(run_plan(spec())))
    assert doc["simulated"]["rates"] == {"friend_added": 4.0, "tag_added[tag=问过价格]": 1.5}
    assert doc["simulated"]["by_type"]["friend_added"] == 12
    assert doc["simulated"]["by_day"]["2026-12-01"]["friend_added"] == 4
    drawn = [e for e in doc["events"] if e.get("simulated")]
    assert Counter(e["type"] for e in drawn) == Counter(doc["simulated"]["by_type"])


# ---- A/B sample size ---------------------------------------------------------------------------


def test_the_rule() -> None:
    assert needed_per_arm(BASELINE) == 683  # 10 % against 15 %: (1.96 + 0.84)² · (0.09 + 0.1275) / 0.05²
    assert needed_per_arm(0.5) == 1562
    assert needed_per_arm(0.0) == needed_per_arm(0.01)  # kept within 1 %–94 %


def _counts(per_arm: int, goal: int = 0) -> dict[str, JourneyCounts]:
    c = JourneyCounts(entered=2 * per_arm, goal=goal)
    c.by_arm.update({("s1", "A", False): per_arm, ("s1", "B", False): per_arm})
    return {"问价实验": c}


def test_warned_with_two_entrants_not_with_enough() -> None:
    playbooks = load_checked([str(CASE / "playbook.pb")])
    (warning,) = sample_warnings(playbooks, _counts(1))
    assert (warning.journey, warning.step, warning.arms, warning.needed) == ("问价实验", "s1", {"A": 1, "B": 1}, 683)
    assert sample_warnings(playbooks, _counts(683)) == []
    assert sample_warnings(playbooks, _counts(682)) != []
    # the baseline is the journey's own conversion where there is one
    (warning,) = sample_warnings(playbooks, _counts(700, goal=700))
    assert warning.baseline == 0.5 and warning.needed == 1562
    # a journey without a goal (回访) has nothing to compare: never warned
    assert {w.journey for w in sample_warnings(playbooks, {})} == {"问价实验"}


def test_enough_entrants_in_a_plan_no_warning(tmp_path: Path) -> None:
    rows = "".join(f"c{n},客户{n},a{n % 2 + 1}\n" for n in range(2000))
    (tmp_path / "contacts.csv").write_text("id,name,account\n" + rows, encoding="utf-8")
    few = run_plan(spec("tag_added[tag=问过价格]=1/day", days=2))
    assert [w.json()["journey"] for w in sample_warnings(few.playbooks, few.metric_counts or {})] == ["问价实验"]
    many = run_plan(spec("tag_added[tag=问过价格]=800/day", days=7, contacts=str(tmp_path / "contacts.csv")))
    arms = many.metrics["问价实验"]["by_arm"]
    assert min(a["entered"] for a in arms.values()) >= 683
    assert sample_warnings(many.playbooks, many.metric_counts or {}) == []
    assert "warnings" not in json.loads(to_json(many))


# ---- the command line: golden, languages, errors -----------------------------------------------

ARGS = ["plan", str(CASE / "playbook.pb"), "--contacts", str(CASE / "contacts.csv"), "--accounts",
        str(CASE / "accounts.csv"), "--start", "2026-12-01", "--days", "3", "--simulate", SIMULATE, "--seed", "3"]  # fmt: skip


def _plan(*args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook", "--lang", lang, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "100"}, timeout=120)  # fmt: skip


def _relative(text: str) -> str:
    return text.replace(str(ROOT) + "/", "")


def test_golden_terminal_and_json() -> None:
    for lang, name in (("en", "expected.txt"), ("zh", "expected.zh.txt")):
        done = _plan(*ARGS, "--show-skipped", lang=lang)
        assert done.returncode == 0, done.stderr
        check_golden(CASE / name, done.stdout)
    done = _plan(*ARGS, "--format", "json")
    assert done.returncode == 0, done.stderr
    check_golden(CASE / "expected.json", _relative(done.stdout))


def test_printouts_in_english_and_chinese() -> None:
    en = _plan(*ARGS, "--show-skipped").stdout
    assert "drawn by --simulate" in en and "│ total      │           12 │" in en
    assert "A/B 问价实验 (s1): arms A 3, B 1 — too few to tell a difference: each arm needs about 683" in en
    assert "(two-proportion rule, 80% power, α = 0.05 two-sided)" in en
    assert "skipped · missing city — touches: 8, contacts: 8" in en
    assert "  sim-0002 sim-0004 sim-0001" in en  # in plan order
    assert "│ 回访     │       9 │    — │    no goal │" in en  # no goal: not 0.0%
    zh = _plan(*ARGS, "--show-skipped", lang="zh").stdout
    assert "--simulate 抽取的事件" in zh and "加好友 (friend_added)" in zh and "│ 合计" in zh
    assert "人数太少，分不出差别" in zh and "每组约需 683 人" in zh
    assert "跳过 · 缺少字段 city —— 触达 8 次，联系人 8 位" in zh
    assert "未设目标" in zh
    without = _plan(*ARGS).stdout
    assert "skipped and deferred, by reason" not in without  # only with --show-skipped


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("en", "--simulate: the rate in 'friend_added=abc/day' must be a number of events a day"),
        ("zh", "--simulate：'friend_added=abc/day' 的速率必须是每天的事件数"),
    ],
)
def test_bad_rate_is_a_clear_error(lang: str, says: str) -> None:
    done = _plan(*ARGS[:-4], "--simulate", "friend_added=abc/day", lang=lang)
    assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr


def test_html_says_what_was_drawn_and_warns(tmp_path: Path) -> None:
    pytest.importorskip("vl_convert")
    out = tmp_path / "plan.html"
    done = _plan(*ARGS, "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    assert "<p>drawn by --simulate</p><table>" in page and "<td>total</td><td>12</td>" in page
    assert "<p class='warning'>A/B 问价实验 (s1): arms A 3, B 1 — too few to tell a difference" in page
    assert "<td>回访</td><td></td><td>9</td><td>0</td><td>no goal</td>" in page
    zh = tmp_path / "plan.zh.html"
    _plan(*ARGS, "--format", "html", "--out", str(zh), lang="zh")
    assert "--simulate 抽取的事件" in zh.read_text(encoding="utf-8") and "未设目标" in zh.read_text(encoding="utf-8")


def test_a_split_without_a_goal_shows_no_goal_and_no_warning(tmp_path: Path) -> None:
    book = tmp_path / "p.pb"
    book.write_text('playbook "无目标分流"\ntimezone "Asia/Shanghai"\n\ncontent 甲 = "甲"\ncontent 乙 = "乙"\n\n'
                    'journey 分流无目标 {\n  on tag_added where event.tag == "x"\n\n  split {\n    50%: dm 甲\n'
                    '    50%: dm 乙\n  }\n}\n', encoding="utf-8")  # fmt: skip
    args = ["plan", str(book), "--contacts", str(CASE / "contacts.csv"), "--accounts", str(CASE / "accounts.csv"),
            "--start", "2026-12-01", "--days", "2", "--simulate", "tag_added[tag=x]=5/day"]  # fmt: skip
    en = _plan(*args).stdout
    assert "no goal" in en and "A —/" in en and "0.0%" not in en and "A/B" not in en
    zh = _plan(*args, lang="zh").stdout
    assert "未设目标" in zh and "0.0%" not in zh
    assert "warnings" not in json.loads(_plan(*args, "--format", "json").stdout)
