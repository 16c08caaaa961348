"""Hypothesis strategies for valid playbook syntax trees (`playbook.syntax.ast`).

Every tree drawn here is one that some text parses to, so `parse(fmt(tree)) == tree` must
hold for all of them. The few shapes no text can produce are left out on purpose:

* names are never keywords (`in`, `day`, `mon`, …) and hold no full-width digits (the
  parser reads those as ASCII before it sees a name);
* texts never hold "\\r" (line endings are normalized before lexing);
* numbers fit the parser's limit of 15 digits, durations are longer than zero;
* a journey never has an untimed `exit` step right before an `on …` clause: the text
  `exit on …` is the `exit on EVENT` clause;
* group steps always have a timing clause (the grammar requires one).

Strategy factories are cached: each strategy is built (and validated by Hypothesis) once.
"""

from __future__ import annotations

import datetime as dt
import string
from functools import cache

from hypothesis import assume
from hypothesis import strategies as st

from playbook.syntax import ast as A
from playbook.syntax.keywords import keywords

KEYWORDS = keywords()
MAX_NUMBER = 10**15 - 1

# Names: ASCII, CJK and a few other letters; never a keyword.
_CJK = "新客老已购沉睡华东欢迎语品牌故事搭配技巧礼预售群朋友圈互动好友通过及时回复早安水果高意向"
_OTHER_LETTERS = "éßΩжあ"
_NAME_START = string.ascii_letters + "_" + _CJK + _OTHER_LETTERS
_NAME_REST = _NAME_START + string.digits


@cache
@st.composite
def names(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(_NAME_START))
    rest = draw(st.text(alphabet=_NAME_REST, max_size=6))
    name = first + rest
    assume(name not in KEYWORDS)  # rare: most draws are not English words
    return name


@cache
def name_nodes() -> st.SearchStrategy[A.Name]:
    return names().map(A.Name)


# Texts: biased towards what breaks quoting (quotes, backslashes, newlines, braces, tabs,
# leading spaces, the Chinese quotes), plus arbitrary Unicode.
_TRICKY = ['"', '"""', "\\", "\\n", "\n", "\t", "{", "}", "{name|亲}", "“", "”", "#", " ", "  ", "：", "，",
           "新客", "您好", "abc", "'", "\f", "\u3000", "\ufeff"]  # fmt: skip


@cache
def texts() -> st.SearchStrategy[str]:
    tricky = st.lists(st.sampled_from(_TRICKY), max_size=8).map("".join)
    anything = st.text(st.characters(exclude_characters="\r", exclude_categories=("Cs",)), max_size=20)
    return st.one_of(tricky, anything, st.lists(st.one_of(tricky, anything), max_size=3).map("\n".join))


@cache
def text_nodes() -> st.SearchStrategy[A.Text]:
    return texts().map(A.Text)


# ---- leaves ------------------------------------------------------------------------------------

_UNITS = (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1))


@cache
@st.composite
def durations(draw: st.DrawFn) -> A.Duration:
    counts = draw(st.tuples(*(st.integers(0, 60) for _ in _UNITS)).filter(any))
    minutes = sum(n * size for n, (_, size) in zip(counts, _UNITS, strict=True))
    style = draw(st.sampled_from(["canonical", "written", "minutes"]))
    if style == "canonical":  # no text: fmt renders it
        return A.Duration(minutes)
    if style == "minutes":  # e.g. 90m, as an operator may write it
        return A.Duration(minutes, f"{minutes}m")
    text = "".join(f"{n}{unit}" for n, (unit, _) in zip(counts, _UNITS, strict=True) if n)
    return A.Duration(minutes, text)


@cache
def clocks() -> st.SearchStrategy[A.Clock]:
    return st.builds(A.Clock, st.integers(0, 23), st.integers(0, 59))


@cache
def time_ranges() -> st.SearchStrategy[A.TimeRange]:
    return st.builds(A.TimeRange, clocks(), clocks())


@cache
def dates() -> st.SearchStrategy[dt.date]:
    return st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31))


@cache
def datetimes() -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59)).map(
        lambda d: d.replace(second=0, microsecond=0)
    )


@cache
def datetime_lits() -> st.SearchStrategy[A.DateTimeLit]:
    return datetimes().map(A.DateTimeLit)


@cache
def whole_numbers() -> st.SearchStrategy[int]:
    return st.integers(0, MAX_NUMBER)


@cache
def unsigned_numbers() -> st.SearchStrategy[int | float]:
    return st.one_of(
        st.integers(0, 1000),
        whole_numbers(),
        st.floats(0, 1e14, allow_nan=False, allow_infinity=False),
        st.sampled_from([0.5, 33.3, 1e-7, 99.99]),
    )


@cache
def signed_numbers() -> st.SearchStrategy[int | float]:
    return st.tuples(st.booleans(), unsigned_numbers()).map(lambda t: -t[1] if t[0] else t[1])


# ---- expressions ----------------------------------------------------------------------------------


@cache
def fields() -> st.SearchStrategy[A.Field]:
    return st.lists(names(), min_size=1, max_size=3).map(lambda p: A.Field(tuple(p)))


@cache
def literals() -> st.SearchStrategy[A.Literal]:
    return st.one_of(
        texts().map(lambda v: A.Literal("text", v)),
        signed_numbers().map(lambda v: A.Literal("number", v)),
        dates().map(lambda v: A.Literal("date", v)),
        datetimes().map(lambda v: A.Literal("datetime", v)),
        st.booleans().map(lambda v: A.Literal("bool", v)),
    )


@cache
def atoms() -> st.SearchStrategy[A.Expr]:
    return st.one_of(
        st.builds(
            A.Compare, fields(), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), st.one_of(literals(), fields())
        ),
        st.builds(A.InList, fields(), st.lists(literals(), max_size=3).map(tuple), st.booleans()),
        st.builds(A.Within, fields(), durations()),
        st.builds(A.IsSet, fields(), st.booleans()),
        st.builds(A.HasTag, text_nodes()),
        st.builds(A.InSegment, name_nodes()),
    )


@cache
def exprs() -> st.SearchStrategy[A.Expr]:
    return st.recursive(
        atoms(),
        lambda inner: st.one_of(
            st.builds(A.BoolOp, st.sampled_from(["and", "or"]), inner, inner),
            st.builds(A.Not, inner),
        ),
        max_leaves=8,
    )


# ---- schedules -------------------------------------------------------------------------------------


@cache
def weekday_items() -> st.SearchStrategy[A.WeekdayItem]:
    return st.builds(A.WeekdayItem, st.integers(0, 6), st.none() | st.integers(0, 6))


@cache
def _times() -> st.SearchStrategy[tuple[A.Clock, ...]]:
    return st.lists(clocks(), min_size=1, max_size=3).map(tuple)


@cache
def schedules() -> st.SearchStrategy[A.Schedule]:
    return st.one_of(
        st.builds(A.EveryDay, _times()),
        st.builds(A.EveryWeekday, _times()),
        st.builds(A.EveryWeekend, _times()),
        st.builds(A.EveryWeekdays, st.lists(weekday_items(), min_size=1, max_size=3).map(tuple), _times()),
        st.builds(A.EveryMonth, st.lists(st.integers(1, 31), min_size=1, max_size=3).map(tuple), _times()),
        st.builds(A.EveryInterval, durations(), st.none() | time_ranges()),
        st.builds(A.Cron, text_nodes()),
    )


# ---- steps --------------------------------------------------------------------------------------------


@cache
def timings() -> st.SearchStrategy[A.Timing]:
    return st.one_of(
        st.builds(A.After, durations()),
        st.builds(A.AtTime, clocks()),
        st.builds(A.DayAt, st.integers(0, 400), clocks()),
    )


@cache
def simple_actions() -> st.SearchStrategy[A.Action]:
    return st.one_of(
        st.builds(A.Dm, name_nodes()),
        st.builds(A.Post, name_nodes()),
        st.builds(A.Task, text_nodes()),
        st.builds(A.TagAdd, text_nodes()),
        st.builds(A.TagRemove, text_nodes()),
        st.builds(A.Invite, name_nodes()),
        st.just(A.ExitStep()),
    )


@cache
def _steps(actions: st.SearchStrategy[A.Action], max_size: int = 3) -> st.SearchStrategy[tuple[A.Step, ...]]:
    return st.lists(st.builds(A.Step, st.none() | timings(), actions), max_size=max_size).map(tuple)


@cache
def _else_if(actions: st.SearchStrategy[A.Action]) -> st.SearchStrategy[A.If]:
    """`if … else if …`: the otherwise branch is a single untimed If."""
    nested = st.builds(A.If, exprs(), _steps(actions), st.none() | _steps(actions))
    return st.builds(lambda c, t, n: A.If(c, t, (A.Step(None, n),)), exprs(), _steps(actions), nested)


@cache
def actions() -> st.SearchStrategy[A.Action]:
    return st.recursive(
        simple_actions(),
        lambda inner: st.one_of(
            st.builds(A.If, exprs(), _steps(inner), st.none() | _steps(inner)),
            _else_if(inner),
            st.builds(
                A.Split,
                st.lists(st.builds(A.Arm, unsigned_numbers(), _steps(inner)), min_size=1, max_size=3).map(tuple),
            ),
            st.builds(
                A.Wait,
                name_nodes(),
                st.none() | exprs(),
                durations(),
                st.none() | _steps(inner),
                st.none() | _steps(inner),
            ),
        ),
        max_leaves=6,
    )


@cache
def steps(timed: bool = False) -> st.SearchStrategy[A.Step]:
    return st.builds(A.Step, timings() if timed else st.none() | timings(), actions())


# ---- declarations ----------------------------------------------------------------------------------------


@cache
def journey_clauses() -> st.SearchStrategy[A.JourneyClause]:
    where = st.none() | exprs()
    return st.one_of(
        st.builds(A.EntryOn, name_nodes(), where),
        st.builds(A.EntryEnter, name_nodes()),
        st.builds(A.EntrySchedule, schedules(), name_nodes()),
        st.builds(A.EntryAt, datetime_lits(), name_nodes()),
        st.builds(A.ExitOn, name_nodes(), where),
        st.builds(A.ExitWhen, exprs()),
        st.builds(A.Reenter, durations()),
        st.builds(A.Goal, name_nodes(), where, durations()),
        st.builds(A.Priority, signed_numbers()),
    )


def _journey_readable(members: tuple[A.JourneyClause | A.Step, ...]) -> bool:
    """No untimed `exit` step right before `on …` (that text reads as `exit on …`)."""
    return not any(
        isinstance(a, A.Step) and a.timing is None and isinstance(a.action, A.ExitStep)
        and isinstance(b, A.EntryOn | A.EntryEnter)
        for a, b in zip(members, members[1:], strict=False)
    )  # fmt: skip


@cache
def journeys() -> st.SearchStrategy[A.Journey]:
    members = st.lists(st.one_of(journey_clauses(), steps()), max_size=8).map(tuple).filter(_journey_readable)
    return st.builds(A.Journey, name_nodes(), members)


@cache
def group_members() -> st.SearchStrategy[A.GroupMember]:
    return st.one_of(
        st.builds(A.GroupTitle, text_nodes()),
        st.builds(A.GroupMembers, exprs()),
        st.builds(A.OpensOnce, datetime_lits()),
        st.builds(A.OpensSeries, schedules()),
        st.builds(A.Lasts, durations()),
        st.builds(A.Size, whole_numbers()),
        st.builds(A.GroupInvite, name_nodes()),
        steps(timed=True),
        st.builds(A.Closing, actions()),
    )


@cache
def moment_rules() -> st.SearchStrategy[A.MomentRule]:
    return st.builds(A.MomentRule, st.one_of(schedules(), datetime_lits()), name_nodes(), st.none() | exprs())


@cache
def rotate_members() -> st.SearchStrategy[A.RotateMember]:
    return st.one_of(
        st.builds(A.RotateEach, durations()),
        st.builds(A.RotateOrder, names().map(lambda n: A.Field((n,))), st.booleans()),
        st.builds(A.RotateAt, clocks(), st.none() | st.lists(weekday_items(), min_size=1, max_size=3).map(tuple)),
        st.builds(A.RotateTask, text_nodes()),
        st.builds(A.RotateMembers, exprs()),
    )


_PART_KEYS = ["text", "image", "link", "title", "desc", "miniprogram", "page", "video", "file"]


@cache
def contents() -> st.SearchStrategy[A.Content]:
    part = st.builds(A.ContentPart, st.sampled_from(_PART_KEYS), text_nodes())
    single = text_nodes().map(lambda t: (A.ContentPart("text", t),))
    return st.builds(A.Content, name_nodes(), st.one_of(single, st.lists(part, max_size=4).map(tuple)))


@cache
def declarations() -> st.SearchStrategy[A.Declaration]:
    return st.one_of(
        st.builds(A.Title, text_nodes()),
        st.builds(A.Timezone, text_nodes()),
        st.builds(A.Quiet, time_ranges()),
        st.builds(
            A.Limit,
            st.sampled_from(["dm", "group", "moment", "task", "any"]),
            whole_numbers(),
            st.sampled_from(["contact", "account"]),
            st.sampled_from(["day", "week", "month"]),
            st.sampled_from([None, "defer", "skip"]),
        ),
        st.builds(A.Segment, name_nodes(), exprs()),
        contents(),
        journeys(),
        st.builds(A.Group, name_nodes(), st.lists(group_members(), max_size=6).map(tuple)),
        st.builds(A.Moments, name_nodes(), st.lists(moment_rules(), max_size=4).map(tuple)),
        st.builds(A.Rotate, name_nodes(), st.lists(rotate_members(), max_size=5).map(tuple)),
        st.builds(A.Sla, name_nodes(), name_nodes(), name_nodes(), durations(), st.none() | time_ranges(),
                  st.lists(sla_members(), max_size=4).map(tuple)),  # fmt: skip
    )


def sla_members() -> st.SearchStrategy[A.SlaMember]:
    """`remind at D` and `escalate to ACCOUNT|"role" after D` clauses."""
    return st.one_of(
        st.builds(A.SlaRemind, durations()),
        st.builds(A.SlaEscalate, name_nodes() | text_nodes(), durations()),
    )


@cache
def files(path: str = "<input>") -> st.SearchStrategy[A.File]:
    return st.lists(declarations(), max_size=6).map(lambda decls: A.File(path, decls))
