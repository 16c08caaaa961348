"""The IR's canonical plain-data form: its JSON text and its version id.

Kept free of pydantic so that `playbook check` (which only needs the version id) starts
fast; the typed models in `ir.py` build on it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IR_VERSION = 1


def dumps(doc: Any, *, indent: int | None = 2) -> str:
    """Stable JSON text: sorted keys, UTF-8 text kept readable."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=indent)


def version_of_doc(doc: dict[str, Any]) -> str:
    """A hash of the meaning: everything but the version itself, the file-derived name and
    source positions."""
    data = {k: v for k, v in doc.items() if k not in ("version", "sources", "name")}
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "pb-" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
