"""A plan's touches, in the plan's order, as the engine made them.

The engine hands a plan single Touches and TouchRuns — the members of a batch (a
rotation's day for one account, a group's invitations) that ended alike, as lists of
contacts, keys and texts. Most of a large plan's touches come in runs, so they are kept
so: the order, the counts, the JSON lines and the shards' merge keys are all made from
the runs as they are. A Touch object is made for a run's member only when one is asked
for (iterating, indexing: tables of a small plan, `--contact`, tests).

The order is the plan's: by time, account, contact, flow and step, then as they were made
(docs/semantics.md) — one stable sort of integer ranks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any, overload

import numpy as np

from playbook.vocab.model import Touch, TouchRun


class PlannedTouches(Sequence[Touch]):
    def __init__(self, made: list[Touch | TouchRun]):
        self.made = made
        singles = [i for i, x in enumerate(made) if x.__class__ is Touch]
        runs = [i for i, x in enumerate(made) if x.__class__ is not Touch]
        one: list[Any] = [made[i] for i in singles]
        many: list[Any] = [made[i] for i in runs]
        likes = [x.like for x in many]
        sizes = np.ones(len(made), dtype=np.int64)
        sizes[runs] = [len(x.contacts) for x in many]
        self.total = total = int(sizes.sum())
        firsts = np.cumsum(sizes) - sizes
        item = np.repeat(np.arange(len(made), dtype=np.int64), sizes)
        member = np.arange(total, dtype=np.int64) - firsts[item]
        # each item's time, account, flow and step (attrgetter: a million singles at C speed)
        at = _by_item(len(made), singles, runs, list(map(_AT, one)), list(map(_AT, many)))
        accounts, account = _ranks(len(made), singles, runs, [a or "" for a in map(_ACCOUNT, one)],
                                   [a or "" for a in map(_ACCOUNT, likes)])  # fmt: skip
        _, flow = _ranks(len(made), singles, runs, list(map(_FLOW, one)), list(map(_FLOW, likes)))
        _, step = _ranks(len(made), singles, runs, list(map(_STEP, one)), list(map(_STEP, likes)))
        # each touch's contact, in the order made
        contact_of: list[str] = [""] * total
        for i, c in zip(firsts[singles].tolist(), map(_CONTACT, one), strict=True):
            contact_of[i] = c or ""
        for i, x in zip(firsts[runs].tolist(), many, strict=True):
            contact_of[i : i + len(x.contacts)] = x.contacts
        names, contact = _contact_ranks(contact_of)
        order = _stable_order([at[item], account[item], contact, flow[item], step[item]])
        self.item, self.member = item[order], member[order]
        self.at = at[self.item]
        self.accounts, self.account = accounts, account[self.item]  # each touch's account: an index into `accounts`
        self._contacts, self._contact = names, contact[order]

    # ---- as a sequence of Touch --------------------------------------------------------------
    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> Touch: ...
    @overload
    def __getitem__(self, index: slice) -> list[Touch]: ...
    def __getitem__(self, index: int | slice) -> Touch | list[Touch]:
        if isinstance(index, slice):
            return [self._touch(i) for i in range(*index.indices(self.total))]
        if index < 0:
            index += self.total
        if not 0 <= index < self.total:
            raise IndexError("touch index out of range")
        return self._touch(index)

    def _touch(self, position: int) -> Touch:
        x = self.made[int(self.item[position])]
        if x.__class__ is Touch:
            return x  # type: ignore[return-value]
        return x.touch(int(self.member[position]))  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[Touch]:
        for x, first, stop in self.segments():
            if x.__class__ is Touch:
                yield x  # type: ignore[misc]
            else:
                yield from x.touches(first, stop)  # type: ignore[union-attr]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PlannedTouches({len(self)} touches in {len(self.made)} parts)"

    # ---- as they were made ----------------------------------------------------------------
    def segments(self) -> Iterator[tuple[Touch | TouchRun, int, int]]:
        """The touches in order as (single touch, 0, 1) or (run, first member, stop): each
        stretch of a run's members that follow one another in the order."""
        if not self.total:
            return
        item, member = self.item, self.member
        breaks = np.flatnonzero((item[1:] != item[:-1]) | (member[1:] != member[:-1] + 1)) + 1
        starts = np.concatenate([[0], breaks]).tolist()
        stops = np.concatenate([breaks, [self.total]]).tolist()
        made = self.made
        for x, first, start, stop in zip(item[starts].tolist(), member[starts].tolist(), starts, stops, strict=True):
            yield made[x], first, first + stop - start

    def contact_of_lines(self) -> tuple[list[str], np.ndarray]:
        """For each touch, its contact as an index into the sorted contact ids ("" for none)."""
        return self._contacts, self._contact

    def of_contact(self, contact: str) -> list[Touch]:
        """The touches of one contact or seen by it (a Moments post), in order."""
        out = []
        for x, first, stop in self.segments():
            if x.__class__ is Touch:
                if x.contact == contact or (x.audience is not None and contact in x.audience):  # type: ignore[union-attr]
                    out.append(x)
            else:
                try:
                    out.append(x.touch(x.contacts.index(contact, first, stop)))  # type: ignore[union-attr]
                except ValueError:
                    pass
        return out  # type: ignore[return-value]

    def by_run(self) -> Iterator[tuple[Touch | TouchRun, int]]:
        """Each single touch or run with how many touches it holds (counting needs no order)."""
        for x in self.made:
            yield x, 1 if x.__class__ is Touch else len(x.contacts)  # type: ignore[union-attr]


def touches_of(touches: Sequence[Touch], contact: str) -> list[Touch]:
    """One contact's touches (or posts it sees), in order."""
    if isinstance(touches, PlannedTouches):
        return touches.of_contact(contact)
    return [x for x in touches if x.contact == contact or (x.audience is not None and contact in x.audience)]


_AT, _ACCOUNT, _FLOW, _STEP, _CONTACT = (attrgetter(a) for a in ("at", "account", "flow", "step", "contact"))


def _by_item(count: int, singles: list[int], runs: list[int], of_singles: list[Any], of_runs: list[Any]) -> np.ndarray:
    """A value of each item (singles' and runs' put at their places), as an array."""
    out = np.empty(count, dtype=np.int64)
    out[singles] = of_singles
    out[runs] = of_runs
    return out


def _ranks(count: int, singles: list[int], runs: list[int], of_singles: list[str],
           of_runs: list[str]) -> tuple[list[str], np.ndarray]:  # fmt: skip
    """The distinct values sorted, and each item's value as its rank among them."""
    names = sorted(set(of_singles).union(of_runs))
    rank = {v: i for i, v in enumerate(names)}
    return names, _by_item(count, singles, runs, list(map(rank.__getitem__, of_singles)),
                           list(map(rank.__getitem__, of_runs)))  # fmt: skip


def _contact_ranks(contacts: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct contacts sorted, and each one's rank among them. Sorted by numpy (a
    million ids: about 2.5 times faster than sorted() and a dict), as bytes where every id
    is ASCII (bytes order is then code point order, as str's); numpy's strings lose
    trailing NULs, so ids with a NUL are ranked the plain way."""
    if not contacts:
        return [], np.zeros(0, dtype=np.int64)
    if "\0" in "".join(contacts):
        names = sorted(set(contacts))
        rank = {c: i for i, c in enumerate(names)}
        return names, np.fromiter(map(rank.__getitem__, contacts), np.int64, len(contacts))
    try:
        as_array = np.array(contacts, dtype="S")
    except UnicodeEncodeError:
        as_array = np.array(contacts, dtype="U")
    distinct, ranks = np.unique(as_array, return_inverse=True)
    names = [x.decode() for x in distinct.tolist()] if distinct.dtype.kind == "S" else distinct.tolist()
    return names, ranks.astype(np.int64, copy=False).reshape(-1)


def _stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """The stable order by the keys (first key first): one integer key where they fit in
    63 bits, else a lexsort."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.int64)
    low = int(keys[0].min())
    shifted = [keys[0] - low, *keys[1:]]
    widths = [int(k.max()).bit_length() for k in shifted]
    if sum(widths) > 62:
        return np.lexsort([np.arange(len(keys[0])), *keys[::-1]])  # the last key first
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    for k, width in zip(shifted, widths, strict=True):
        combined = (combined << width) | k
    return np.argsort(combined, kind="stable")
