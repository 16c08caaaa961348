"""How many of the sample contacts a segment matches now — hover's count, computed by the
engine that runs the playbook (the same predicates, the same columns), not by a second
evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SegmentCounter:
    """The engine's view of one compiled playbook over the sample contacts, kept while the
    playbook's version and the contacts stay the same (a hover per second must not rebuild
    the columns)."""

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._program: Any = None

    def count(self, pb: Any, records: Sequence[dict[str, Any]], segment: str, now: int) -> tuple[int, int]:
        """(contacts matching SEGMENT at NOW, contacts) for the compiled playbook PB."""
        from playbook.engine.columns import Columns
        from playbook.engine.core import Contacts, Program

        key = (pb.version, id(records))
        if key != self._key:
            contacts = Contacts()
            for record in records:
                contacts.upsert(record)
            self._program, self._key = Program(pb, Columns(contacts)), key
        program = self._program
        columns = program.columns
        members = program.membership(pb.segments[segment].expr).at(now) & columns.live()
        return int(members.sum()), len(columns.ids_of(columns.live()))
