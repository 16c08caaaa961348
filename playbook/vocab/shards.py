"""Which shard an account belongs to: the one function the plan's worker processes
(plan/shards.py) and the store's leases (runtime/store.py) both use, so that an account's
contacts, limits and timers are in the same shard wherever they are counted."""

from __future__ import annotations

import zlib


def shard_of(account: str | None, count: int) -> int:
    """The shard, of `count`, that `account` belongs to (no account, or one shard: 0) —
    CRC-32 of the id's UTF-8 bytes: stable across processes, runs and machines."""
    return zlib.crc32(account.encode()) % count if account and count > 1 else 0


def ranges(shards: list[int] | tuple[int, ...] | set[int]) -> str:
    """Shards as compact ranges, for people: [0, 1, 2, 5, 7, 8] → "0-2,5,7-8" ("-" for none)."""
    out: list[str] = []
    run: list[int] = []
    for shard in sorted(shards):
        if run and shard != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(shard)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out) or "-"
