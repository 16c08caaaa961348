"""A shard's share of the plan's JSON (plan/shards.py): its events' and touches' lines in
files, with what they are put in order by, so that all the shards' lines together are the
lines `write_json` (plan/jsonwriter.py) writes for the whole plan."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from playbook.plan.contract import Dump
from playbook.plan.jsonlines import BLOCK
from playbook.plan.jsonwriter import LINE_SEPARATOR, section_blocks
from playbook.plan.part import PlanResult
from playbook.plan.touches import PlannedTouches

_AT = attrgetter("at")


def write_section_lines(result: PlanResult, directory: str) -> dict[str, SectionLines]:
    """A shard's share of the JSON (plan/shards.py): for the events and the touches, a file
    of their lines in order, each followed by LINE_SEPARATOR, and for each line its time,
    its account and where it ends in the file — all the shards' lines put in that order
    are the lines `write_json` writes for the whole plan."""
    out: dict[str, SectionLines] = {}
    for name, items, blocks in section_blocks(result, Dump(), binary=True):
        path = f"{directory}/{name}"
        ends = np.empty(len(items), dtype=np.int64)
        with open(path, "wb") as fh:
            written = done = 0
            chunk: list[str] = []
            for block in blocks:
                if block.__class__ is list:
                    chunk += block  # type: ignore[arg-type]
                    # written a few thousand lines (1–3 MB) at a time: larger buffers are memory
                    # the system maps and unmaps at each write (page faults cost more than the writes)
                    if len(chunk) < BLOCK:
                        continue
                written = _write_lines(fh, chunk, ends, done, written)
                done += len(chunk)
                chunk = []
                if block.__class__ is not list:  # a Moments post: its audience's bytes as they are
                    head, audience, tail = block
                    for data in (head.encode(), audience, (tail + LINE_SEPARATOR).encode()):
                        fh.write(data)
                        written += len(data)
                    ends[done] = written
                    done += 1
            _write_lines(fh, chunk, ends, done, written)
        out[name] = SectionLines(path, *_merge_keys(items), ends)
    return out


def _merge_keys(items: Any) -> tuple[list[str], np.ndarray, list[str], np.ndarray, np.ndarray]:
    """What the shards' lines are put in order by (SectionLines): each line's account, its
    contact where it has no account (contacts without one may be in any shard), its time."""
    if isinstance(items, PlannedTouches):
        names, account = items.accounts, items.account
        others, contact = items.contact_of_lines()
        if "" not in names or not len(account):
            return names, account, [""], np.zeros(len(items), dtype=np.int32), items.at
        return names, account, others, np.where(account == names.index(""), contact, 0), items.at
    accounts = [x.account or "" for x in items]
    codes = {a: i for i, a in enumerate(dict.fromkeys(accounts))}
    codes_of_lines = np.fromiter(map(codes.__getitem__, accounts), np.int32, len(items))
    seen: dict[str, int] = {"": 0}
    contacts = np.zeros(len(items), dtype=np.int32)
    if "" in codes:
        contacts[:] = [seen.setdefault(x.contact or "", len(seen)) if not x.account else 0 for x in items]
    times = np.fromiter(map(_AT, items), dtype=np.int64, count=len(items))
    return list(codes), codes_of_lines, list(seen), contacts, times


def _write_lines(fh: Any, lines: list[str], ends: np.ndarray, done: int, written: int) -> int:
    """Lines, each with its separator, into a file; where each ends goes into `ends` from
    index `done`. A JSON line has no line break of its own (json escapes it in a string),
    so the line breaks in the encoded bytes are the separators': found by numpy, not by
    measuring each line."""
    if not lines:
        return written
    data = (LINE_SEPARATOR.join(lines) + LINE_SEPARATOR).encode()
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if len(breaks) != len(lines):  # not so after all (never, with json's own quoting): measure each
        breaks = np.cumsum([len(x.encode()) + len(LINE_SEPARATOR) for x in lines]) - len(LINE_SEPARATOR) + 1
    ends[done : done + len(lines)] = breaks + (written + len(LINE_SEPARATOR) - 1)
    fh.write(data)
    return written + len(data)


@dataclass
class SectionLines:
    """One shard's lines of a section (see write_section_lines)."""

    path: str
    accounts: list[str]  # the accounts its lines name ("" for none) …
    account: np.ndarray  # … and each line's, as an index into them
    contacts: list[str]  # the contacts of its lines without an account ("" for the others) …
    contact: np.ndarray  # … and each line's, as an index into them
    at: np.ndarray  # each line's time
    ends: np.ndarray  # where each line (with its separator) ends in the file
