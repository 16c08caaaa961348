"""Engine values survive the store exactly: same types, same values, on both backends."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.runtime.codec import decode, dumps, encode
from playbook.runtime.rows import Journal, TimerRow
from playbook.runtime.store import Store
from playbook.vocab.model import Event
from playbook.vocab.values import DateValue, Instant

# Text as data files can carry it: any Unicode scalar (no surrogates; NUL only inside JSON).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
IDS = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12)
INSTANTS = st.integers(-(2**40), 2**40)
VALUES = st.one_of(
    TEXT,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.frozensets(TEXT, max_size=5),
    INSTANTS.map(Instant),
    INSTANTS.map(DateValue),
)
# Field names include "$…" ones: a record {"$time": 5} must not come back as an Instant.
FIELD_NAMES = st.one_of(TEXT, st.sampled_from(["$time", "$date", "$tags", "$dict", "$x", "tags", "account"]))
# `account` is an id (text, no NUL); ids and accounts with NUL are refused (test below).
FIELDS = st.dictionaries(FIELD_NAMES.filter(lambda k: k != "id"), VALUES, max_size=8).filter(
    lambda f: "account" not in f or (isinstance(f["account"], str) and "\x00" not in f["account"])
)
SAME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (1, 1.0, True and Instant(1) differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Event):
        return same((a.type, a.contact, a.at, a.data, a.seq), (b.type, b.contact, b.at, b.data, b.seq))
    return bool(a == b)


def roundtrip_json(value: Any) -> Any:
    import json

    return decode(json.loads(dumps(encode(value))))


@given(FIELDS)
def test_codec_round_trips_field_values(fields: dict[str, Any]) -> None:
    assert same(roundtrip_json(fields), fields)


def test_codec_round_trips_timeline_payloads() -> None:
    event = Event("purchase", "c1", 1764550800, {"amount": 3149.0, "tags": frozenset({"a"}), "at": Instant(5)}, 7)
    payloads = [
        (event,),
        (0, "新客", "c1", 2, "n3", 1),
        (0, "g", "g/a1/2026-12-01/1", "n2", ("n5", "n6")),
        (0, "g", "g/a1/2026-12-01/1", "n2", None),
        (1, 0, "c1", 3, 1764550800, None, "阿四"),
        (),
    ]
    for payload in payloads:
        assert same(roundtrip_json(payload), payload)
    state = {"queues": {"a1": ["c2", "c1"]}, "placed": {"c1", "c2"}, "open": {"c1": (1, 2, 3)}, "cycle": -1}
    assert same(roundtrip_json(state), state)
    assert encode({"placed": {"b", "a"}}) == {"placed": {"$set": ["a", "b"]}}  # sorted: stable bytes


def test_codec_refuses_what_it_cannot_bring_back() -> None:
    with pytest.raises(TypeError, match="cannot store"):
        encode({"x": object()})
    with pytest.raises(TypeError, match="dict key"):
        encode({1: "x"})
    with pytest.raises(ValueError):
        dumps(encode({"x": float("nan")}))


@SAME
@given(fields=FIELDS, cid=IDS)
def test_contact_fields_round_trip_through_the_store(store: Store, fields: dict[str, Any], cid: str) -> None:
    record = {"id": cid, **fields}
    store.write(Journal(contacts=[record]))  # replaces the row
    records, deleted = store.load_contacts()
    stored = next(r for r in records if r["id"] == cid)
    assert same(stored, record)
    assert cid not in deleted


@SAME
@given(fields=FIELDS)
def test_imported_fields_round_trip(store: Store, fields: dict[str, Any]) -> None:
    store.import_records("accounts", [{"id": "a", **fields}])
    (stored,) = store.load_accounts()
    assert same({k: v for k, v in stored.items() if k in fields or k == "id"}, {"id": "a", **fields})
    # importing what is stored changes nothing
    again = store.import_records("accounts", [stored])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)


@SAME
@given(payload=st.tuples(st.integers(0, 5), TEXT, st.none() | TEXT, st.tuples(TEXT) | st.none(), VALUES),
       data=FIELDS)  # fmt: skip
def test_timer_payloads_round_trip_through_the_store(store: Store, payload: tuple, data: dict[str, Any]) -> None:
    event = Event("message", "c1", 99, data, 4)
    row = TimerRow(1, 100, 3, ("c1",), "step", (*payload, event))
    store.write(Journal(timers=[row]))
    (loaded,) = store.load_state().timers
    assert same(_timer(loaded), _timer(row))


def _timer(row: TimerRow) -> tuple[Any, ...]:
    return (row.seq, row.due, row.phase, row.order, row.kind, row.payload)


def test_bookkeeping_times_are_aware_utc(store: Store) -> None:
    store.save_version({"version": "pb-1", "name": "x"})
    (row,) = store.versions()
    assert row.created_at.tzinfo is dt.UTC
    assert abs((dt.datetime.now(dt.UTC) - row.created_at).total_seconds()) < 60


def test_nul_in_ids_is_refused_on_every_backend(store: Store) -> None:
    with pytest.raises(ValueError, match="NUL"):
        store.write(Journal(contacts=[{"id": "c\x001"}]))
    with pytest.raises(ValueError, match="NUL"):
        store.import_records("contacts", [{"id": "c1", "account": "a\x00"}])
    assert store.load_contacts() == ([], set())
