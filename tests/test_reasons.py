"""Reasons are a code and arguments (playbook.vocab.reasons): their English text is the bytes
the JSON contract and the store keep, the text for people and the summary's cause come from
the code, and a text read back (JSON, store) is the same reason again."""

from __future__ import annotations

import pickle

import pytest
from conftest import ROOT

from playbook import i18n
from playbook.adapters.capabilities import wecom_limits
from playbook.compiler import ir
from playbook.i18n import set_language
from playbook.plan.run import PlanInput, run_plan
from playbook.vocab import reasons
from playbook.vocab.model import SKIPPED
from playbook.vocab.reasons import CODES, Reason, cause_of, read, reason_text

# Every code with arguments, and the English text the engine has always given for it.
MADE = [
    (reasons.CONTACT_DELETED, "contact deleted", "contact deleted"),
    (reasons.NO_ACCOUNT, "the contact has no account", "the contact has no account"),
    (reasons.GROUP_CLOSED, "the group has closed", "the group has closed"),
    (reasons.NO_AUDIENCE, "no contact can see it", "no contact can see it"),
    (Reason("quiet_hours", start="21:30", end="09:00"), "quiet hours 21:30-09:00", "quiet hours"),
    (reasons.limit("dm", 2, "contact", "week"), "limit dm 2 per contact per week", "limits"),
    (reasons.missing("account.name"), "missing account.name", "missing fields"),
    (reasons.exited(reasons.exit_on("purchase")), "exited the journey (exit on purchase)", "exits"),
    (reasons.exited(reasons.EXIT_WHEN), "exited the journey (exit when)", "exits"),
    (reasons.exited(reasons.EXIT_STEP), "exited the journey (exit step)", "exits"),
    (reasons.exited(reasons.DELETED), "exited the journey (deleted)", "exits"),
    (reasons.exited(Reason("migrated", version="v2")), "exited the journey (migrated to v2)", "exits"),
    (reasons.exited(Reason("rejected", version="v2")), "exited the journey (v2 was rejected)", "exits"),
    (Reason("awaiting_approval", version="v1"), "awaiting approval of v1", None),
    (Reason("rejected", version="v1"), "v1 was rejected", None),
    (Reason("replaced", version="v1"), "v1 was replaced before approval", None),
    (reasons.no_role("店长"), "no account has the role 店长", None),
    (reasons.EMPTY_GROUP, "nobody is in the group", None),
    (reasons.already_member("VIP会员群"), "already in group 'VIP会员群'", None),
    (reasons.not_admitted("VIP会员群"), "not admitted to group 'VIP会员群'", None),
    *[(rule.label, str(rule.label), None) for mode in ("day", "week", "month") for rule in wecom_limits(mode)],
    (
        reasons.joined([reasons.limit("dm", 1, "contact", "day"), Reason("quiet_hours", start="21:30", end="09:00")]),
        "limit dm 1 per contact per day; quiet hours 21:30-09:00",
        "limits",
    ),
]


@pytest.mark.parametrize(("reason", "english", "cause"), MADE, ids=[x[1] for x in MADE])
def test_a_reason_is_its_english_text_and_reads_back(reason: Reason, english: str, cause: str | None) -> None:
    assert type(str(reason)) is str and str(reason) == english
    back = read(english)
    assert (back.code, str(back)) == (reason.code, english)
    assert back.cause == reason.cause == cause_of(english) == (english if cause is None else cause)
    assert pickle.loads(pickle.dumps(reason)) == reason and pickle.loads(pickle.dumps(reason)).code == reason.code


def test_every_code_is_made_and_read_back() -> None:
    made = {r.code for r, _, _ in MADE} | {p.code for r, _, _ in MADE if r.code == "several" for p in r.args["parts"]}
    made |= {r.args["why"].code for r, _, _ in MADE if r.code == "exited"}
    assert made == set(CODES) | {"several"}


def test_a_text_no_template_gives_is_a_reason_of_its_own() -> None:
    for text in ("a reason nobody knows", "limit foo 2 per contact per week", "quiet hours soon"):
        back = read(text)
        assert (back.code, str(back), back.cause, back.text()) == ("other", text, text, text)


def test_the_limit_reason_is_the_compilers_label() -> None:
    for channel in ("dm", "group", "moment", "task", "any"):
        for scope in ("contact", "account"):
            for period in ("day", "week", "month"):
                limit = ir.Limit(channel=channel, count=3, scope=scope, period=period)
                assert reasons.limit(channel, 3, scope, period) == limit.label


def test_people_see_the_code_in_their_language() -> None:
    try:
        set_language("zh")
        i18n.clear_missing()
        made = {str(r): r.text() for r, _, _ in MADE}
        assert made == {english: reason_text(english) for english in made}  # the same from the text
        assert made["quiet hours 21:30-09:00"] == "免打扰时段 21:30-09:00"
        assert made["exited the journey (exit on purchase)"] == "已退出旅程（发生了 购买 (purchase) 事件）"
        assert i18n.missing() == frozenset()
    finally:
        set_language(None)


def test_the_engine_gives_reasons_with_their_code() -> None:
    books = ROOT / "playbooks"
    result = run_plan(PlanInput([str(books / n) for n in ("new_customer.pb", "moments_and_service.pb", "presale_group.pb",
                                                          "win_back.pb", "vip_invite.pb")],
                                str(books / "contacts.csv"), str(books / "accounts.csv"), str(books / "events.jsonl"),
                                start="2026-12-01 00:00", days=30, adapter_limits=wecom_limits("day"),
                                simulate={"purchase": 0.3, "reply": 0.3, "delete": 0.05}, seed=1))  # fmt: skip
    given = [x.reason for x in result.touches if x.reason]
    assert {x.outcome for x in result.touches if x.reason} >= {SKIPPED}
    assert given and all(isinstance(r, Reason) and r.code != "other" for r in given)
    codes = {r.code for r in given} | {p.code for r in given if r.code == "several" for p in r.args["parts"]}
    assert codes >= {"quiet_hours", "contact_deleted", "wecom_dm_day"}
