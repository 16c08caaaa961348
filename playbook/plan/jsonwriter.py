"""`plan --format json`: the stable JSON contract (PRODUCT.md) streamed, its head from
plan/contract.py and its events' and touches' lines from plan/jsonlines.py (or, planned in
shards, their lines put together: plan/sections.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, TextIO

from playbook.plan.contract import Dump, IsoTimes, events_in_order, json_head
from playbook.plan.jsonlines import BLOCK, EventLines, TouchLines, in_blocks
from playbook.plan.part import PlanResult
from playbook.plan.touches import PlannedTouches

LINE_SEPARATOR = ",\n    "  # between two lines of a section (after "[\n    ")


def write_json(result: PlanResult, out: TextIO) -> None:
    """The stable JSON contract, streamed: same inputs, same bytes; one touch or event per
    line, so a million-contact plan never sits in memory as one string."""
    head = json_head(result)
    dump = Dump()  # one encoder for every line

    out.write("{\n")
    for key in sorted(head):
        out.write(f"  {dump(key)}: {dump(head[key])},\n")
    sections = section_blocks(result, dump)
    for number, (name, _, blocks) in enumerate(sections):
        out.write(f"  {dump(name)}: [")
        if result.sections is not None:  # planned in shards: their lines, put together
            result.sections.write(name, out)
            out.write(",\n" if number + 1 < len(sections) else "\n")
            continue
        separator = "\n    "
        for block in blocks:
            if block.__class__ is list:
                out.write(separator + LINE_SEPARATOR.join(block))  # type: ignore[arg-type]
            else:  # a line in pieces, each written as it is (see TouchLines.pieces)
                head, audience, tail = block
                out.write(separator + head)
                out.write(audience)
                out.write(tail)
            separator = LINE_SEPARATOR
        out.write("]" if separator == "\n    " else "\n  ]")
        out.write(",\n" if number + 1 < len(sections) else "\n")
    out.write("}\n")


def section_blocks(result: PlanResult, dump: Dump, binary: bool = False) -> list[tuple[str, list[Any], Iterator[Any]]]:
    """The JSON's two sections, events and touches: each with its items in order and their
    lines in blocks (see TouchLines.blocks)."""
    when = IsoTimes(result.clock)
    touch_line = TouchLines(when, dump, binary)
    event_line = EventLines(result.clock, when, dump)
    events = events_in_order(result)
    touches = result.touches
    if isinstance(touches, PlannedTouches):
        touch_blocks = touch_line.blocks(touches)
    else:
        touch_blocks = in_blocks(map(touch_line.pieces, touches))
    event_blocks = ([event_line(e) for e in events[i : i + BLOCK]] for i in range(0, len(events), BLOCK))
    return [("events", events, event_blocks), ("touches", touches, touch_blocks)]


def to_json(result: PlanResult) -> str:
    buffer = io.StringIO()
    write_json(result, buffer)
    return buffer.getvalue()
