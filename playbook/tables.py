"""Tables that fit the terminal: wrapped, never cut.

rich shrinks a table that is wider than the console by squeezing its columns, which cuts
headers to `已 …` (a Chinese header has no space to wrap at) and breaks English words in
the middle. `print_table` instead prints the table as it is when it fits, and otherwise
wraps it the way a long line is wrapped: it splits the columns into consecutive parts
that each fit, repeating the first (key) column — the account, the day, the journey — in
every part, so each row can still be read across.
"""

from __future__ import annotations

from typing import Any


def _natural_width(console: Any, table: Any) -> int:
    from rich.measure import Measurement

    # Measured without the console's width as a cap: the width the table wants.
    return Measurement.get(console, console.options.update(max_width=100_000), table).maximum


def _part(table: Any, indexes: list[int], title: str | None) -> Any:
    from rich.table import Table

    part = Table(title=title, title_justify=table.title_justify, box=table.box, show_header=table.show_header,
                 header_style=table.header_style, show_lines=table.show_lines, padding=table.padding,
                 expand=table.expand)  # fmt: skip
    columns = [table.columns[i] for i in indexes]
    for c in columns:
        part.add_column(c.header, justify=c.justify, style=c.style, header_style=c.header_style,
                        no_wrap=c.no_wrap, overflow=c.overflow, min_width=c.min_width, max_width=c.max_width)  # fmt: skip
    cells = [list(c.cells) for c in columns]
    for row in zip(*cells, strict=True):
        part.add_row(*row)
    return part


def split_columns(console: Any, table: Any, width: int | None = None) -> list[Any]:
    """`table` itself when it fits `width` (default: the console's), else parts of it that
    each fit, every part starting with the first column."""
    width = width or console.width
    if not table.columns or _natural_width(console, table) <= width:
        return [table]
    parts: list[list[int]] = []
    current = [0]
    for i in range(1, len(table.columns)):
        trial = _part(table, [*current, i], None)
        if len(current) > 1 and _natural_width(console, trial) > width:
            parts.append(current)
            current = [0, i]
        else:
            current.append(i)
    parts.append(current)
    if len(parts) == 1:  # even one column next to the key is too wide: let rich fold it
        return [table]
    return [_part(table, p, table.title if n == 0 else None) for n, p in enumerate(parts)]


def print_table(console: Any, table: Any) -> None:
    """Print `table` on `console`, wrapped into parts when it is wider than the console."""
    for part in split_columns(console, table):
        console.print(part)
