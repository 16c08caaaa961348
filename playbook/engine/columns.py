"""Column-wise segment evaluation for bulk questions ("which of a million contacts are
in 老客 right now?").

Contacts stay row dicts (the source of truth, what rendering and per-contact conditions
read); `Columns` mirrors the fields expressions ask about as numpy arrays, one per
(field, type) so that a comparison only ever sees values of its own type — exactly the
row semantics of engine/expr.py, where a type mismatch or a missing value is false.
`Membership` keeps one expression's answer for every contact, updated row by row when a
contact changes and recomputed whole at the day tick when it depends on time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from playbook.vocab.localtime import LocalTime
from playbook.vocab.values import DateValue, Instant, kind_of

if TYPE_CHECKING:
    from playbook.engine.contacts import Contacts

MISSING_TIME = np.iinfo(np.int64).min
VecPredicate = Callable[[int], np.ndarray]  # now -> bool array over all rows

_KINDS = ("number", "time", "text", "bool")


class Columns:
    """Field columns over all contacts, in row order (rows are never removed)."""

    def __init__(self, contacts: Contacts):
        self.contacts = contacts
        self.ids: list[str] = []
        self.row: dict[str, int] = {}
        self._cols: dict[tuple[str, str], np.ndarray] = {}
        self._tags: dict[str, np.ndarray] = {}
        self._groups: dict[str, np.ndarray] = {}  # `in group G`: G in the contact's `groups`
        self.accounts: list[str | None] = [None]  # code -> account id (0: none)
        self._account_code: dict[str | None, int] = {None: 0}
        self.capacity = 0
        self.active = np.zeros(0, dtype=bool)
        self.account = np.zeros(0, dtype=np.int32)
        self._dirty: set[str] = set()
        # rows 0..n0-1 in account order (a stable sort of their account codes) and those codes,
        # for by_account; rows added since are not in it, a row of it changing account drops it
        self._grouped: tuple[int, np.ndarray, np.ndarray] | None = None
        self._load()

    def _load(self) -> None:
        """Rows for the contacts there are, all at once: what `_append` and `_mirror` do
        row by row (no column is built yet), for a million contacts."""
        fields = self.contacts.fields
        ids = list(fields)
        n = len(ids)
        while self.capacity < n:
            self._grow()
        self.ids = ids
        self.row = dict(zip(ids, range(n), strict=True))
        deleted = self.contacts.deleted
        self.active[:n] = [cid not in deleted for cid in ids]
        codes = self._account_code
        row_codes = []
        for record in fields.values():
            account = record.get("account")
            code = codes.get(account)
            if code is None:
                code = codes[account] = len(self.accounts)
                self.accounts.append(account)
            row_codes.append(code)
        self.account[:n] = row_codes
        self._grouped = None

    @property
    def n(self) -> int:
        return len(self.ids)

    def _grow(self) -> None:
        capacity = max(1024, self.capacity * 2)

        def grown(a: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full(capacity, fill, dtype=a.dtype)
            out[: len(a)] = a
            return out

        self.active = grown(self.active, False)
        self.account = grown(self.account, 0)
        for key, col in self._cols.items():
            self._cols[key] = grown(col, _fill(key[1]))
        for tag, col in self._tags.items():
            self._tags[tag] = grown(col, False)
        for group, col in self._groups.items():
            self._groups[group] = grown(col, False)
        self.capacity = capacity

    def _append(self, cid: str) -> int:
        if self.n >= self.capacity:
            self._grow()
        index = self.n
        self.row[cid] = index
        self.ids.append(cid)
        return index

    def touch(self, cid: str) -> int:
        """A contact was added or changed: it gets its row now, and its cells are brought up
        to date before the next column-wise question (events often change one contact
        several times in a row)."""
        index = self.row.get(cid)
        if index is None:
            index = self._append(cid)
        self._dirty.add(cid)
        return index

    def _flush(self) -> None:
        if self._dirty:
            dirty, self._dirty = self._dirty, set()
            for cid in dirty:
                self._mirror(cid)

    def _mirror(self, cid: str) -> int:
        """Copy a contact's fields into its row of every built column."""
        index = self.row[cid]
        record = self.contacts.fields.get(cid, {})
        self.active[index] = self.contacts.active(cid)
        for (field, kind), col in self._cols.items():
            col[index] = _cell(record.get(field), kind)
        tags = record.get("tags") or frozenset()
        for tag, col in self._tags.items():
            col[index] = tag in tags
        groups = record.get("groups") or frozenset()
        for group, col in self._groups.items():
            col[index] = group in groups
        account = record.get("account")
        code = self._account_code.get(account)
        if code is None:
            code = self._account_code[account] = len(self.accounts)
            self.accounts.append(account)
        if self.account[index] != code:
            self.account[index] = code
            if self._grouped is not None and index < self._grouped[0]:
                self._grouped = None
        return index

    def column(self, field: str, kind: str) -> np.ndarray:
        self._flush()
        col = self._cols.get((field, kind))
        if col is None:
            col = np.full(max(self.capacity, 1), _fill(kind), dtype=_dtype(kind))
            fields = self.contacts.fields
            values = [fields[cid].get(field) for cid in self.ids]
            wanted = _TYPES[kind]
            fill = _fill(kind)
            if kind == "bool":
                cells = [(1 if v else 0) if type(v) is bool else -1 for v in values]
            else:
                cells = [v if type(v) in wanted else fill for v in values]
            col[: self.n] = np.array(cells, dtype=_dtype(kind)) if cells else col[:0]
            self._cols[(field, kind)] = col
        return col[: self.n]

    def tag(self, tag: str) -> np.ndarray:
        return self._member_column(self._tags, "tags", tag)

    def group(self, group: str) -> np.ndarray:
        """Who is in group `group` (their `groups` field holds it)."""
        return self._member_column(self._groups, "groups", group)

    def _member_column(self, built: dict[str, np.ndarray], field: str, item: str) -> np.ndarray:
        """Whether each contact's set field `field` (tags, groups) holds `item`."""
        self._flush()
        col = built.get(item)
        if col is None:
            col = np.zeros(max(self.capacity, 1), dtype=bool)
            fields = self.contacts.fields
            col[: self.n] = np.fromiter((item in (fields[c].get(field) or ()) for c in self.ids), bool, self.n)
            built[item] = col
        return col[: self.n]

    def live(self) -> np.ndarray:
        self._flush()
        return self.active[: self.n]

    def ids_of(self, mask: np.ndarray) -> list[str]:
        """The contact ids where `mask` is true, in row order."""
        ids = self.ids
        return [ids[i] for i in np.flatnonzero(mask)]

    def by_account(self, mask: np.ndarray) -> dict[str, np.ndarray]:
        """Rows where `mask` is true (and live), grouped by account, in row order."""
        chosen = mask & self.live()  # live() flushes pending rows, accounts included
        n = self.n
        grouped = self._grouped
        if grouped is None or 8 * (n - grouped[0]) > n:  # none yet, or many rows added since
            grouped = self._grouped = self._group(n)
        covered, order, codes = grouped
        # the account order of every row there was is known: keep the chosen ones (no sort)
        keep = chosen[order]
        rows, codes = order[keep], codes[keep]
        out: dict[str, np.ndarray] = {}
        for code, part in _split(rows, codes):
            account = self.accounts[code]
            if account is not None:
                out[account] = part
        added = np.flatnonzero(chosen[covered:]) + covered  # rows added since: after every older row
        if len(added):
            added_codes = self.account[added]
            by_code = np.argsort(added_codes, kind="stable")
            for code, part in _split(added[by_code], added_codes[by_code]):
                account = self.accounts[code]
                if account is not None:
                    out[account] = np.concatenate([out[account], part]) if account in out else part
        return out

    def _group(self, n: int) -> tuple[int, np.ndarray, np.ndarray]:
        codes = self.account[:n]
        if len(self.accounts) <= 32767:
            codes = codes.astype(np.int16)  # the same order: numpy's stable sort of 16-bit ints is a radix sort
        order = np.argsort(codes, kind="stable")
        return n, order, codes[order]


def _split(rows: np.ndarray, codes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Rows sorted by their codes, as (code, its rows) for each code."""
    if len(rows) == 0:
        return []
    starts = np.flatnonzero(np.diff(codes)) + 1
    return list(zip(codes[np.concatenate([[0], starts])].tolist(), np.split(rows, starts), strict=True))


class Audience:
    """Who can see a Moments post: row numbers, turned into contact ids only when asked."""

    __slots__ = ("rows", "columns")

    def __init__(self, rows: np.ndarray, columns: Columns):
        self.rows = rows
        self.columns = columns

    def __len__(self) -> int:
        return len(self.rows)

    def ids(self) -> list[str]:
        """The contact ids, sorted. Not remembered: most posts have an audience of their own
        (contacts come and go between posts), and a million contacts' lists add up."""
        return sorted(map(self.columns.ids.__getitem__, self.rows.tolist()))

    def __contains__(self, cid: object) -> bool:
        index = self.columns.row.get(cid) if isinstance(cid, str) else None
        return index is not None and bool(np.any(self.rows == index))


class IdOrder:
    """Contact ids in id order, for listing many audiences at once (the plan's JSON, after
    the run): each row's rank among the ids, so an audience's rows sort as numbers."""

    def __init__(self, columns: Columns):
        ids = columns.ids
        self.n = len(ids)
        self.columns = columns
        self.as_array = np.array(ids, dtype=object)
        self.rank = np.empty(self.n, dtype=np.int64)
        self.rank[sorted(range(self.n), key=ids.__getitem__)] = np.arange(self.n)

    def covers(self, audience: Audience) -> bool:
        """Whether this order knows every row of the audience (no contact came since)."""
        return audience.columns is self.columns and self.columns.n == self.n

    def sorted_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows in the order of their ids."""
        ranks = self.rank[rows]
        if len(ranks) > 1 and not bool(np.all(ranks[1:] > ranks[:-1])):
            rows = rows[np.argsort(ranks, kind="stable")]
        return rows

    def ids(self, rows: np.ndarray) -> list[str]:
        """What Audience.ids gives for these rows: the ids, sorted."""
        return self.as_array[self.sorted_rows(rows)].tolist()


# Exact value types per column kind (bool and Instant are int subclasses, kept apart).
_TYPES = {"number": (int, float), "time": (Instant, DateValue), "text": (str,), "bool": (bool,)}


def _dtype(kind: str) -> Any:
    return {"number": np.float64, "time": np.int64, "text": object, "bool": np.int8}[kind]


def _fill(kind: str) -> Any:
    return {"number": np.nan, "time": MISSING_TIME, "text": None, "bool": -1}[kind]


def _cell(value: Any, kind: str) -> Any:
    if kind_of(value) != kind:
        return _fill(kind)
    if kind == "bool":
        return 1 if value else 0
    return value


class VecCompiler:
    """IR expression → function(now) → bool array, with the row semantics of expr.py."""

    def __init__(self, columns: Columns, clock: LocalTime, segments: Mapping[str, Any]):
        self.columns = columns
        self.clock = clock
        self.segments = segments  # name -> IR doc of the segment's expression

    def compile(self, e: Mapping[str, Any]) -> VecPredicate:
        op = e["op"]
        cols = self.columns
        if op in ("and", "or"):
            parts = [self.compile(a) for a in e["args"]]
            combine = np.logical_and if op == "and" else np.logical_or

            def combined(now: int) -> np.ndarray:
                out = parts[0](now)
                for p in parts[1:]:
                    out = combine(out, p(now))
                return out

            return combined
        if op == "not":
            inner = self.compile(e["arg"])
            return lambda now: ~inner(now)
        if op == "tag":
            tag = e["tag"]
            return lambda now: cols.tag(tag).copy()
        if op == "group":
            group = e["group"]
            return lambda now: cols.group(group).copy()
        if op == "segment":
            name = e["segment"]
            compiled: list[VecPredicate] = []

            def segment(now: int) -> np.ndarray:
                if not compiled:  # compiled on first use: segments may refer forward
                    compiled.append(self.compile(self.segments[name]))
                return compiled[0](now)

            return segment
        field = e["field"]
        if field.startswith(("event.", "account.")):
            return self._per_row(e)
        if op == "is_set":

            def is_set(now: int) -> np.ndarray:
                present = np.zeros(cols.n, dtype=bool)
                for kind in _KINDS:
                    col = cols.column(field, kind)
                    present |= _present(col, kind)
                return present

            return is_set
        if op == "within":
            span = e["minutes"] * 60

            def within(now: int) -> np.ndarray:
                col = cols.column(field, "time")
                return (col != MISSING_TIME) & (col >= now - span) & (col <= now)

            return within
        if op == "in":
            tests = [self._compare(field, "==", v) for v in e["values"]]

            def any_of(now: int) -> np.ndarray:
                out = np.zeros(cols.n, dtype=bool)
                for test in tests:
                    out |= test(now)
                return out

            return any_of
        assert op == "cmp"
        if "field" in e["value"]:
            return self._per_row(e)
        return self._compare(field, e["cmp"], e["value"])

    def _compare(self, field: str, cmp: str, lit: Mapping[str, Any]) -> VecPredicate:
        cols = self.columns
        kind, value = lit["kind"], lit["value"]
        ops = {
            "==": np.equal,
            "!=": np.not_equal,
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
        }
        if kind == "date":
            day = dt.date.fromisoformat(value)
            lo, hi = self.clock.midnight(day), self.clock.midnight(day + dt.timedelta(days=1))

            def by_day(now: int) -> np.ndarray:
                col = cols.column(field, "time")
                present = col != MISSING_TIME
                inside = (col >= lo) & (col < hi)
                result = {"==": inside, "!=": ~inside, "<": col < lo, "<=": col < hi, ">": col >= hi, ">=": col >= lo}[
                    cmp
                ]
                return present & result

            return by_day
        fn = ops[cmp]
        if kind == "datetime":
            instant = self.clock.instant(dt.datetime.fromisoformat(value))
            return lambda now: _time_cmp(cols.column(field, "time"), fn, instant)
        if kind == "number":
            return lambda now: _num_cmp(cols.column(field, "number"), fn, value)
        if kind == "bool":
            flag = 1 if value else 0
            return lambda now: _bool_cmp(cols.column(field, "bool"), fn, flag)
        return lambda now: _text_cmp(cols.column(field, "text"), cmp, value)

    def _per_row(self, e: Mapping[str, Any]) -> VecPredicate:
        """Expressions that read another field or the account: evaluated row by row."""
        from playbook.engine.expr import Compiler

        row_pred = Compiler(self.clock, {}).compile(e)  # a leaf: it names no segment
        contacts = self.columns.contacts

        def per_row(now: int) -> np.ndarray:
            ids = self.columns.ids
            return np.fromiter((row_pred(contacts.scope(c, now)) for c in ids), bool, len(ids))

        return per_row


def _present(col: np.ndarray, kind: str) -> np.ndarray:
    if kind == "number":
        return ~np.isnan(col)
    if kind == "time":
        return col != MISSING_TIME
    if kind == "bool":
        return col >= 0
    return np.fromiter((v is not None and v != "" for v in col), bool, len(col))


def _num_cmp(col: np.ndarray, fn: Any, value: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~np.isnan(col) & fn(col, value)


def _time_cmp(col: np.ndarray, fn: Any, instant: int) -> np.ndarray:
    return (col != MISSING_TIME) & fn(col, instant)


def _bool_cmp(col: np.ndarray, fn: Any, flag: int) -> np.ndarray:
    return (col >= 0) & fn(col, flag)


def _text_cmp(col: np.ndarray, cmp: str, value: str) -> np.ndarray:
    if cmp == "==":
        return col == value
    if cmp == "!=":
        return np.fromiter((v is not None and v != value for v in col), bool, len(col))
    import operator

    fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[cmp]
    return np.fromiter((v is not None and fn(v, value) for v in col), bool, len(col))


class Membership:
    """One expression's answer for every contact, kept current."""

    def __init__(self, vec: VecPredicate, row: Callable[[str, int], bool], time_dependent: bool, columns: Columns):
        self.vec = vec
        self.row = row
        self.time_dependent = time_dependent
        self.columns = columns
        self.values: np.ndarray | None = None
        self.computed_at = -1
        self.fields: set[str] | None = None  # the contact fields it reads (None: any)

    def at(self, now: int) -> np.ndarray:
        """Membership of every row (active or not) as of `now`."""
        if self.values is None or (self.time_dependent and now != self.computed_at):
            self.values = np.asarray(self.vec(now), dtype=bool).copy()
            self.computed_at = now
        elif len(self.values) < self.columns.n:
            # Rows added since (new contacts): `values` is a view of a buffer that grows by
            # doubling, so a contact added costs its own row, not a copy of every row.
            size, n = len(self.values), self.columns.n
            buffer = self.values.base if self.values.base is not None else self.values
            if len(buffer) < n:
                buffer = np.zeros(max(n, 2 * len(buffer)), dtype=bool)
                buffer[:size] = self.values
            self.values = buffer[:n]
            for index in range(size, n):
                self.values[index] = self.row(self.columns.ids[index], now)
        return self.values

    def changed(self, cid: str, index: int, now: int) -> None:
        if self.values is None:
            return
        if self.time_dependent and now != self.computed_at:
            self.values = None  # stale anyway: recomputed whole on the next question
            return
        if index >= len(self.values):
            self.at(now)
            return
        self.values[index] = self.row(cid, now)
