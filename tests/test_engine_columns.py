"""Columns.by_account (engine/columns.py) keeps its rows' account order between questions
(a Moments post asks it for every account at once): whatever happens to the contacts in
between, its answer is the plain grouping's."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.engine.columns import Columns
from playbook.engine.core import Contacts

ACCOUNTS = [None, "a1", "a2", "a3", "a4"]

operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(ACCOUNTS)),
    st.tuples(st.just("move"), st.integers(0, 10**6), st.sampled_from(ACCOUNTS)),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
)


def plain_grouping(contacts: Contacts, columns: Columns, mask: np.ndarray) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for row, cid in enumerate(columns.ids):
        account = contacts.fields[cid].get("account")
        if mask[row] and contacts.active(cid) and account is not None:
            out.setdefault(account, []).append(row)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ACCOUNTS), max_size=30), st.lists(operation, max_size=40), st.integers(0, 2**32 - 1))
def test_by_account_is_the_plain_grouping(first: list[str | None], operations: list[Any], seed: int) -> None:
    contacts = Contacts()
    for n, account in enumerate(first):
        contacts.upsert({"id": f"c{n}", **({"account": account} if account else {})})
    columns = Columns(contacts)
    masks = np.random.default_rng(seed)
    for op in operations:
        ids = list(contacts.fields)
        if op[0] == "add":
            cid = f"c{len(ids)}"
            contacts.upsert({"id": cid, **({"account": op[1]} if op[1] else {})})
            columns.touch(cid)
        elif op[0] in ("move", "delete") and ids:
            cid = ids[op[1] % len(ids)]
            if op[0] == "move":
                contacts.upsert({**contacts.fields[cid], "account": op[2]})
            else:
                contacts.deleted.add(cid)
            columns.touch(cid)
        columns.live()  # the columns' own rows, pending ones included
        mask = masks.random(columns.n) < 0.6
        got = {account: rows.tolist() for account, rows in columns.by_account(mask).items()}
        assert got == plain_grouping(contacts, columns, mask)
