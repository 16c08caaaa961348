"""A delivery factory shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from playbook.adapters.base import Delivery

AT = 1_796_083_200  # 2026-12-01T00:00:00+00:00


def delivery(key: str = "pb-1/新客培育/c1/n1/0", **changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "key": key,
        "version": "pb-1",
        "flow": "新客培育",
        "step": "after 5m: dm 欢迎语",
        "channel": "dm",
        "account": "a1",
        "contact": "c1",
        "group": None,
        "audience": None,
        "content": "欢迎语",
        "text": "你好 [bold]小王[/bold]，欢迎！",
        "parts": None,
        "at": AT,
        "due": AT - 300,
        "attempt": 1,
    }
    fields.update(changes)
    return Delivery(**fields)


@pytest.fixture
def make_delivery() -> Callable[..., Delivery]:
    return delivery
