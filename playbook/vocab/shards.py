"""Which shard an account belongs to: the one function the plan's worker processes
(plan/shards.py) and the store's leases (runtime/store.py) both use, so that an account's
contacts, limits and timers are in the same shard wherever they are counted."""

from __future__ import annotations

import zlib


def shard_of(account: str | None, count: int) -> int:
    """The shard, of `count`, that `account` belongs to (no account, or one shard: 0) —
    CRC-32 of the id's UTF-8 bytes: stable across processes, runs and machines."""
    return zlib.crc32(account.encode()) % count if account and count > 1 else 0
