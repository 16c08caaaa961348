"""`playbook run` in a real process whose engine clock runs fast, for the scale-out tests.

    FAST_T0=… FAST_SPEED=12 FAST_GO=/tmp/go FAST_FREEZE=/tmp/freeze python -m tests.runtime.fastrun CONFIG PATH…

The process, its store, leases, adapter, signals and log are the daemon's own
(`runtime.daemon.Daemon`); only the clock it is given (the Daemon takes one by design, as
the in-process plan-equals-run test gives its Decider one) differs: it stands at FAST_T0
until the file FAST_GO holds a wall-clock instant and that instant has come, then runs
FAST_SPEED times faster, and stops moving at the wall-clock instant written in the file
FAST_FREEZE once that file exists. Leases and the store's bookkeeping keep the wall clock.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _instant(path: Path, found: list[float]) -> float | None:
    """The wall-clock instant written in `path`, read once it is there."""
    if not found and path.exists():
        text = path.read_text().strip()
        if text:
            found.append(float(text))
    return found[0] if found else None


def fast_clock() -> Callable[[], float]:
    t0, speed = float(os.environ["FAST_T0"]), float(os.environ["FAST_SPEED"])
    go_file, freeze_file = Path(os.environ["FAST_GO"]), Path(os.environ["FAST_FREEZE"])
    go: list[float] = []
    frozen: list[float] = []

    def clock() -> float:
        started = _instant(go_file, go)
        if started is None:
            return t0
        now = time.time()
        stop = _instant(freeze_file, frozen)
        if stop is not None:
            now = min(now, stop)
        return t0 + max(0.0, now - started) * speed

    return clock


def main(argv: list[str]) -> int:
    from playbook.runtime.config import load_config
    from playbook.runtime.daemon import Daemon, RunOptions

    config = load_config(Path(argv[0]))
    handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("playbook").setLevel(logging.INFO)
    return Daemon(config, RunOptions(argv[1:]), clock=fast_clock()).run()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
