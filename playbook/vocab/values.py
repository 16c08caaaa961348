"""Values of contact, account and event fields as the engine holds them.

Dates and datetimes are instants (seconds since the epoch, UTC) so they compare and
subtract cheaply; `Instant` and `DateValue` are int subclasses that remember which they
are, for rendering and for comparisons with date literals.
"""

from __future__ import annotations

from playbook.vocab.localtime import LocalTime


class Instant(int):
    """A datetime field's value: seconds since the epoch (UTC)."""

    __slots__ = ()


class DateValue(Instant):
    """A date-only field's value: the local midnight that starts the day."""

    __slots__ = ()


def format_value(value: object, clock: LocalTime) -> str:
    """How a value reads inside a message: 3149 not 3149.0, dates in local time."""
    if isinstance(value, DateValue):
        return clock.date_of(value).isoformat()
    if isinstance(value, Instant):
        return clock.local(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, frozenset):
        return "、".join(sorted(value))
    return str(value)


def kind_of(value: object) -> str | None:
    """The type a comparison sees: time, bool, number or text (None for anything else);
    bool and Instant are int subclasses, so the order of the tests matters."""
    if isinstance(value, Instant):
        return "time"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return None
