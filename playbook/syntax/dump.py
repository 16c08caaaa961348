"""The AST as plain JSON-ready data, positions included (golden files, debugging)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from playbook.syntax import ast as A
from playbook.syntax.node import fields, is_node


def to_data(node: Any) -> Any:
    if isinstance(node, A.Span):
        return f"{node.line}:{node.column}-{node.end_line}:{node.end_column}"
    if is_node(node):
        out: dict[str, Any] = {"node": type(node).__name__}
        for f in fields(node):
            if f.name in ("source",):
                continue
            out[f.name] = to_data(getattr(node, f.name))
        return out
    if isinstance(node, list | tuple):
        return [to_data(x) for x in node]
    if isinstance(node, dt.datetime | dt.date):
        return node.isoformat()
    return node
