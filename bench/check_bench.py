"""Start-up: how long one `playbook check playbooks/new_customer.pb` process takes (the
issue-16 goal: ≤ 0.2 s per process), against a bare `python -c pass`, and which imports
cost the most (`python -X importtime`).

    .venv/bin/python bench/check_bench.py            # 20 runs of each
    .venv/bin/python bench/check_bench.py --runs 50

Wall time is what the operator waits; CPU time (the child's user + system) is what the
process itself spends, and is what to compare on a machine busy with other work. The runs
are interleaved (check, bare, check, …) after two warm-up runs, which leave the bytecode
and parser caches an installed playbook has; PYTHONDONTWRITEBYTECODE is unset for them.
Medians and 90th percentiles, in ms. With hyperfine installed the same command can be
cross-checked: `hyperfine -N -w 3 'playbook check playbooks/new_customer.pb'`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "playbook", "check", "playbooks/new_customer.pb"]
BARE = [sys.executable, "-c", "pass"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of CMD; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr.decode(errors='replace')}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def imports(top: int) -> list[tuple[int, str]]:
    """The TOP imports by cumulative microseconds, of one `check` run."""
    done = subprocess.run([sys.executable, "-X", "importtime", *CHECK[1:]], cwd=ROOT, env=_env(), capture_output=True)
    rows = []
    for line in done.stderr.decode().splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--imports", type=int, default=12, help="how many of the costliest imports to list")
    args = ap.parse_args(argv)
    for _ in range(2):
        run_once(CHECK)
    samples: dict[str, list[tuple[float, float]]] = {"check": [], "bare": []}
    for _ in range(args.runs):
        samples["check"].append(run_once(CHECK))
        samples["bare"].append(run_once(BARE))
    out = []
    for name, label in (("check", "playbook check playbooks/new_customer.pb"), ("bare", "python -c pass")):
        wall = [w * 1000 for w, _ in samples[name]]
        cpu = [c * 1000 for _, c in samples[name]]
        out.append(
            f"{label}: wall median {statistics.median(wall):,.0f} ms, p90 {p90(wall):,.0f} ms; "
            f"CPU median {statistics.median(cpu):,.0f} ms, p90 {p90(cpu):,.0f} ms"
            + (" (goal ≤ 200 ms)" if name == "check" else "")
        )
    out.append(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    out.append("costliest imports (cumulative, one run):")
    out.extend(f"  {us / 1000:6.1f} ms  {name.strip()}" for us, name in imports(args.imports))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
