"""`playbook run` in a real process whose engine clock runs fast, for the scale-out tests.

    FAST_T0=… FAST_W0=… FAST_SPEED=30 FAST_FREEZE=/tmp/freeze python -m tests.runtime.fastrun CONFIG PATH…

The process, its store, leases, adapter, signals and log are the daemon's own
(`runtime.daemon.Daemon`); only the clock it is given (the Daemon takes one by design, as
the in-process plan-equals-run test gives its Decider one) differs: it stands at FAST_T0
until the wall clock reaches FAST_W0, then runs FAST_SPEED times faster, and stops moving
at the wall-clock instant written in the file FAST_FREEZE once that file exists. Leases and
the store's bookkeeping keep the wall clock.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


def fast_clock() -> float:
    t0, w0, speed = float(os.environ["FAST_T0"]), float(os.environ["FAST_W0"]), float(os.environ["FAST_SPEED"])
    freeze = Path(os.environ["FAST_FREEZE"])
    frozen: list[float] = []

    def clock() -> float:
        now = time.time()
        if not frozen and freeze.exists():
            text = freeze.read_text().strip()
            if text:
                frozen.append(float(text))
        if frozen:
            now = min(now, frozen[0])
        return t0 + max(0.0, now - w0) * speed

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
