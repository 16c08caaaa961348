"""The plan benchmark: `playbook plan` over a synthetic population, one table.

    .venv/bin/python bench/plan_bench.py                         # 100k and 1M contacts (about 10 minutes)
    .venv/bin/python bench/plan_bench.py --quick                 # 10k and 100k
    .venv/bin/python bench/plan_bench.py --sizes 50000,200000 --repeat 5
    .venv/bin/python bench/plan_bench.py --profile 100000 --profile-only --same-snapshot  # where the time goes

For each size, the population (bench/population.py: accounts, contacts, 30 days of events;
cached under bench/out/population/) is planned with the three shared examples together
(playbooks/moments_and_service.pb, new_customer.pb, presale_group.pb) over 30 days from
2026-12-01 00:00, by the installed `playbook` entry point as a separate process, once with
`--format json --out bench/out/plan/…json` and once with `--format table --out …txt`.
Each process runs under its own fresh helper process, which reports the wall time and the
child's peak RSS (`getrusage(RUSAGE_CHILDREN)` of a process with one child). Touches come
from the JSON summary. Every run plans with the same code: a snapshot of playbook/ and
grammar/ taken at the start (bench/out/snapshot/, put first on the children's PYTHONPATH;
`--live` to skip it), because others edit playbook/ while a run takes minutes. Results go to
bench/out/plan-latest.json and a timestamped copy; see bench/README.md, "Plan benchmark".

Targets (the issue): 1M contacts in ≤ 60 s and ≤ 4 GB peak RSS; time per contact at the
largest size within 1.2× of the smallest (the scaling ratio).
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import datetime as dt
import hashlib
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.population import DEFAULT_SEED, HORIZON_DAYS, ensure  # noqa: E402

OUT = ROOT / "bench" / "out"
PLAN_OUT = OUT / "plan"
SNAPSHOT = OUT / "snapshot"
EXAMPLES = ("playbooks/moments_and_service.pb", "playbooks/new_customer.pb", "playbooks/presale_group.pb")
START = "2026-12-01 00:00"
MILLION = 1_000_000
TARGET_1M_S = 60.0
TARGET_1M_RSS_MIB = 4096.0
TARGET_RATIO = 1.2

# Runs the command given as arguments as its only child; prints wall time, the peak RSS and
# CPU time as JSON on the last line. The peak RSS is the largest sum over the child and its
# own children (a plan's worker processes), sampled every 0.2 s from /proc, shared pages
# counted in each process (an upper bound), or `getrusage`'s largest single process if that
# is more. A fresh helper per measurement, because RUSAGE_CHILDREN's maxrss is the largest
# over all the children a process ever had.
_HELPER = r"""
import json, os, resource, subprocess, sys, time
timeout = float(sys.argv[1]) or None
out, err = sys.argv[2], sys.argv[3]
cmd = sys.argv[4:]
PAGE = os.sysconf("SC_PAGE_SIZE")

def tree_rss(root):
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
        todo += children.get(pid, [])
    return total

t0 = time.perf_counter()
peak = 0
with open(out, "wb") as o, open(err, "wb") as e:
    proc = subprocess.Popen(cmd, stdout=o, stderr=e)
    rc = None
    while rc is None:
        if os.path.isdir("/proc"):
            peak = max(peak, tree_rss(proc.pid))
        try:
            rc = proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if timeout and time.perf_counter() - t0 > timeout:
                proc.kill()
                proc.wait()
                rc = "timeout"
wall = time.perf_counter() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
print(json.dumps({"rc": rc, "wall_s": wall, "max_rss_bytes": max(peak, r.ru_maxrss * scale),
                  "largest_process_rss_bytes": r.ru_maxrss * scale, "user_s": r.ru_utime, "sys_s": r.ru_stime}))
"""


# ---- measuring --------------------------------------------------------------------------------------


def playbook_exe() -> Path:
    """The installed `playbook` entry point next to this interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("playbook", "playbook.exe"):
        if (bindir / name).exists():
            return bindir / name
    raise SystemExit(f"no `playbook` entry point in {bindir}: install the project (pip install -e .)")


def snapshot_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in SNAPSHOT.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(SNAPSHOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def take_snapshot() -> dict[str, Any]:
    """Freeze playbook/ and grammar/ as they are now (others may be editing them), so that
    every size and every run plans with the same code. The children import `playbook` from
    the copy: PYTHONPATH comes before the editable install's path."""
    for attempt in range(4):
        shutil.rmtree(SNAPSHOT, ignore_errors=True)
        for sub in ("playbook", "grammar"):
            shutil.copytree(ROOT / sub, SNAPSHOT / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        probe = subprocess.run(
            [sys.executable, "-c", "import playbook, playbook.cli.main, playbook.plan.jsonwriter; print(playbook.__file__)"],
            cwd=OUT, env=child_env(), capture_output=True, text=True,  # not ROOT: '' on sys.path would win
        )  # fmt: skip
        if probe.returncode == 0 and Path(probe.stdout.strip()).is_relative_to(SNAPSHOT):
            break
        log(f"the snapshot of playbook/ does not import (mid-edit?): {probe.stderr.strip()[-300:]}")
        if attempt == 3:
            raise SystemExit("no importable snapshot of playbook/; try again later or use --live")
        time.sleep(30)
    return {"dir": str(SNAPSHOT.relative_to(ROOT)), "sha256": snapshot_digest()}


_LIVE = False


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    if not _LIVE:
        env["PYTHONPATH"] = os.pathsep.join(x for x in (str(SNAPSHOT), env.get("PYTHONPATH")) if x)
    return env


def measure(cmd: list[str], log_stem: Path, timeout: float) -> dict[str, Any]:
    """Wall time, peak RSS and CPU time of `cmd`, run as the only child of a fresh helper."""
    stdout, stderr = log_stem.with_suffix(".stdout"), log_stem.with_suffix(".stderr")
    done = subprocess.run(
        [sys.executable, "-c", _HELPER, str(timeout), str(stdout), str(stderr), *cmd],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measuring helper failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        tail = stderr.read_text(encoding="utf-8", errors="replace")[-3000:] if stderr.exists() else ""
        result["error"] = tail
    return result


def read_summary(path: Path) -> dict[str, Any]:
    """The plan JSON's summary without loading the touches: the head keys come first, one per line."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('  "summary": '):
                return json.loads(line[len('  "summary": ') :].rstrip().rstrip(","))
            if line.startswith('  "events": '):
                break
    raise SystemExit(f"no summary in {path}")


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def bench_size(n: int, args: argparse.Namespace, exe: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    directory, meta = ensure(n, args.seed)
    gen_s = time.perf_counter() - t0
    PLAN_OUT.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat if args.repeat else (3 if n <= 100_000 else 1)
    common = [
        exe, "plan", *EXAMPLES,
        "--contacts", str(directory / "contacts.csv"),
        "--accounts", str(directory / "accounts.csv"),
        "--events", str(directory / "events.jsonl"),
        "--start", START, "--days", str(HORIZON_DAYS),
        *(["--workers", str(args.workers)] if args.workers else []),
    ]  # fmt: skip
    json_out = PLAN_OUT / f"plan-{n}.json"
    table_out = PLAN_OUT / f"plan-{n}.txt"
    runs: dict[str, list[dict[str, Any]]] = {"json": [], "table": []}
    summary = None
    for fmt, out in (("json", json_out), ("table", table_out)):
        for i in range(repeat if fmt == "json" or not args.table_once else 1):
            runs_of_fmt = repeat if fmt == "json" or not args.table_once else 1
            log(f"  {n:>9,} contacts: --format {fmt}, run {i + 1}/{runs_of_fmt} …")
            cmd = [*common, "--format", fmt, "--out", str(out)]
            r = measure(cmd, PLAN_OUT / f"plan-{n}-{fmt}", args.timeout)
            if r["rc"] != 0 and r["rc"] != "timeout" and args.retries:
                # playbook/ may be mid-edit by someone else (an import error): wait and try again
                for _ in range(args.retries):
                    log(f"    failed ({r['rc']}) after {r['wall_s']:.1f} s: {r.get('error', '').strip()[-200:]}")
                    log("    trying again in 30 s …")
                    time.sleep(30)
                    r = measure(cmd, PLAN_OUT / f"plan-{n}-{fmt}", args.timeout)
                    if r["rc"] == 0:
                        break
            if r["rc"] != 0:
                log(f"    failed ({r['rc']}) after {r['wall_s']:.1f} s\n{r.get('error', '')}")
                runs[fmt].append(r)
                break
            log(f"    {r['wall_s']:.1f} s, {r['max_rss_bytes'] / 2**20:,.0f} MiB peak RSS, "
                f"CPU {r['user_s'] + r['sys_s']:.1f} s")  # fmt: skip
            if fmt == "json":
                s = read_summary(json_out)
                if summary is not None and s != summary:
                    raise SystemExit(f"the plan is not deterministic: {summary} then {s}")
                summary = s
                r["json_bytes"] = json_out.stat().st_size
            runs[fmt].append(r)
        if fmt == "json" and not args.keep_output and json_out.exists():
            json_out.unlink()  # up to GBs at 1M; --keep-output keeps it
    ok = {f: [r for r in rs if r["rc"] == 0] for f, rs in runs.items()}
    touches = sum(summary["by_channel"].values()) if summary else None
    wall = _median([r["wall_s"] for r in ok["json"]])
    return {
        "contacts": n,
        "population": {"dir": str(directory.relative_to(ROOT)), "generate_s": round(gen_s, 2), **meta},
        "repeat": repeat,
        "summary": summary,
        "touches": touches,
        "json": {
            "wall_s": wall,
            "max_rss_mib": max((r["max_rss_bytes"] for r in ok["json"]), default=0) / 2**20,
            "cpu_s": _median([r["user_s"] + r["sys_s"] for r in ok["json"]]),
            "touches_per_s": touches / wall if touches and ok["json"] else None,
            "samples": runs["json"],
        },
        "table": {
            "wall_s": _median([r["wall_s"] for r in ok["table"]]),
            "max_rss_mib": max((r["max_rss_bytes"] for r in ok["table"]), default=0) / 2**20,
            "samples": runs["table"],
        },
        "failed": not ok["json"],  # no plan came through: no figures for this size
        "failed_runs": sum(r["rc"] != 0 for rs in runs.values() for r in rs),
    }


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- the table --------------------------------------------------------------------------------------


def verdicts(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    good = [s for s in sizes if not s["failed"]]
    out: dict[str, Any] = {}
    if len(good) >= 2:
        lo, hi = good[0], good[-1]
        ratio = (hi["json"]["wall_s"] / hi["contacts"]) / (lo["json"]["wall_s"] / lo["contacts"])
        out["scaling_ratio"] = {
            "value": ratio,
            "of": [lo["contacts"], hi["contacts"]],
            "target": f"<= {TARGET_RATIO}",
            "pass": ratio <= TARGET_RATIO,
        }
    million = next((s for s in good if s["contacts"] == MILLION), None)
    if million:
        t, m = million["json"]["wall_s"], million["json"]["max_rss_mib"]
        out["time_1m"] = {"value": t, "target": f"<= {TARGET_1M_S:.0f} s", "pass": t <= TARGET_1M_S}
        out["rss_1m"] = {"value": m, "target": f"<= {TARGET_1M_RSS_MIB:.0f} MiB", "pass": m <= TARGET_1M_RSS_MIB}
    elif good:
        big = good[-1]
        scale = MILLION / big["contacts"]
        ratio = out.get("scaling_ratio", {}).get("value", 1.0)
        marginal = marginal_rss = None
        if len(good) >= 2:  # fixed costs apart: the cost per extra contact between the two largest sizes
            a, b = good[-2], good[-1]
            per = (b["json"]["wall_s"] - a["json"]["wall_s"]) / (b["contacts"] - a["contacts"])
            marginal = b["json"]["wall_s"] + per * (MILLION - b["contacts"])
            per = (b["json"]["max_rss_mib"] - a["json"]["max_rss_mib"]) / (b["contacts"] - a["contacts"])
            marginal_rss = b["json"]["max_rss_mib"] + per * (MILLION - b["contacts"])
        out["time_1m_extrapolated"] = {
            "value": big["json"]["wall_s"] * scale,
            "value_marginal": marginal,
            "value_with_measured_scaling": big["json"]["wall_s"] * scale * max(ratio, 1.0),
            "from": big["contacts"],
            "note": "proportional to the largest size measured; marginal: that time plus the cost per extra "
            "contact between the two largest sizes; with scaling: proportional × the measured scaling ratio",
            "target": f"<= {TARGET_1M_S:.0f} s",
        }
        out["rss_1m_extrapolated"] = {
            "value": big["json"]["max_rss_mib"] * scale,
            "value_marginal": marginal_rss,
            "from": big["contacts"],
            "note": "proportional to the largest size measured; marginal: as for the time",
            "target": f"<= {TARGET_1M_RSS_MIB:.0f} MiB",
        }
    return out


def _runs(s: dict[str, Any]) -> str:
    """Runs per size: `3 (median)`, or `2 of 3 (median)` when some failed."""
    done = len([r for r in s["json"]["samples"] if r["rc"] == 0])
    text = f"{s['repeat']}" if done == s["repeat"] else f"{done} of {s['repeat']}"
    return text + (" (median)" if done > 1 else "")


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['usable_cores']} of {m['cores']} cores usable, {m['memory_gib']} GiB, "
        f"{m['implementation']} {m['python']}; commit {m['git_commit']}{' (+ uncommitted playbook/)' if m['git_dirty'] else ''}",
        f"load average at start {', '.join(map(str, m['load_average'] or []))}; at end "
        f"{', '.join(map(str, result['load_average_end'] or []))} — other processes may share this machine, "
        "so wall times can be inflated; CPU time is shown beside them",
        "code: "
        + (
            "playbook/ as it was at each run (--live)"
            if "sha256" not in result.get("code", {})
            else f"a snapshot of playbook/ and grammar/ taken at the start (sha256 {result['code']['sha256']}), "
            "the same for every run"
        ),
        f"plan: {', '.join(Path(e).name for e in EXAMPLES)} together, {HORIZON_DAYS} days from {START} (+08:00)",
        "",
    ]
    head = ("contacts", "accounts", "events", "wall s", "CPU s", "peak RSS MiB", "touches", "touches/s",
            "table: wall s", "RSS MiB", "runs")  # fmt: skip
    rows = []
    for s in result["sizes"]:
        j, t, pop = s["json"], s["table"], s["population"]
        rows.append((
            f"{s['contacts']:,}", f"{pop['accounts']:,}", f"{pop['events_total']:,}",
            "FAILED" if s["failed"] else f"{j['wall_s']:.1f}", f"{j['cpu_s']:.1f}",
            f"{j['max_rss_mib']:,.0f}", f"{s['touches']:,}" if s["touches"] else "—",
            f"{j['touches_per_s']:,.0f}" if j["touches_per_s"] else "—",
            "—" if t["wall_s"] != t["wall_s"] else f"{t['wall_s']:.1f}", f"{t['max_rss_mib']:,.0f}", _runs(s),
        ))  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("")
    for s in result["sizes"]:
        if s["summary"]:
            lines.append(f"{s['contacts']:>11,}: by channel {s['summary']['by_channel']}, "
                         f"by outcome {s['summary']['by_outcome']}")  # fmt: skip
    lines.append("")
    v = result["verdicts"]

    def mark(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    if "time_1m" in v:
        lines.append(f"1M contacts, wall time   {v['time_1m']['value']:8.1f} s    target {v['time_1m']['target']:>12}  "
                     f"{mark(v['time_1m']['pass'])}")  # fmt: skip
        lines.append(f"1M contacts, peak RSS    {v['rss_1m']['value']:8,.0f} MiB  target {v['rss_1m']['target']:>12}  "
                     f"{mark(v['rss_1m']['pass'])}")  # fmt: skip
    if "time_1m_extrapolated" in v:
        x = v["time_1m_extrapolated"]
        lines.append(f"1M contacts, wall time   ≈{x['value']:7.0f} s    target {x['target']:>12}  "
                     f"{mark(x['value'] <= TARGET_1M_S)} (in proportion to {x['from']:,}"
                     + (f"; ≈{x['value_with_measured_scaling']:.0f} s with the measured scaling"
                        if x["value_with_measured_scaling"] != x["value"] else "")
                     + (f"; ≈{x['value_marginal']:.0f} s by the marginal cost per contact" if x["value_marginal"]
                        else "") + ")")  # fmt: skip
        r = v["rss_1m_extrapolated"]
        lines.append(f"1M contacts, peak RSS    ≈{r['value']:7,.0f} MiB  target {r['target']:>12}  "
                     f"{mark(r['value'] <= TARGET_1M_RSS_MIB)} (in proportion to {r['from']:,}"
                     + (f"; ≈{r['value_marginal']:,.0f} MiB by the marginal cost per contact" if r.get("value_marginal")
                        else "") + ")")  # fmt: skip
    if "scaling_ratio" in v:
        x = v["scaling_ratio"]
        lo, hi = x["of"]
        lines.append(f"scaling (s/contact at {hi:,} ÷ at {lo:,}) {x['value']:.2f}  target {x['target']:>8}  "
                     f"{mark(x['pass'])}")  # fmt: skip
    notes = [f"{s['contacts']:,}: one run" for s in result["sizes"] if s["repeat"] == 1]
    failures = [f"{s['contacts']:,}: {s['failed_runs']}" for s in result["sizes"] if s["failed_runs"]]
    if failures:
        lines.append("failed plan processes (see bench/out/plan/*.stderr): " + "; ".join(failures))
    if notes:
        lines.append("single runs (no median): " + "; ".join(notes))
    return "\n".join(lines)


# ---- where run_plan's time goes ---------------------------------------------------------------------

# engine/flows.py: which part a class or function belongs to
_FLOW_PARTS = {
    "JourneyRun": "journeys", "Enrolment": "journeys", "timing_due": "journeys", "_step_order": "journeys",
    "change_tag": "journeys", "choose_arm": "journeys", "GroupRun": "groups", "Instance": "groups",
    "MomentsRun": "Moments", "RotationRun": "rotations", "SlaRun": "SLAs", "FlowSet": "flow dispatch",
}  # fmt: skip
_CORE_PARTS = {
    "Contacts": "contacts store", "Program": "segments & memberships",
    "_on_event": "events (effects, fan-out)", "contact_changed": "events (effects, fan-out)",
    "_memberships_changed": "segments & memberships", "apply_effects": "events (effects, fan-out)",
    "request": "touch resolution", "_resolve": "touch resolution", "_try": "touch resolution",
    "_finish": "touch resolution", "_render": "rendering", "emit": "touch resolution",
}  # fmt: skip
_FILE_PARTS = (
    ("playbook/compiler/", "compile the playbooks"), ("playbook/syntax/", "compile the playbooks"),
    ("playbook/data/", "reading data (CSV/JSONL, typing)"), ("playbook/engine/columns.py", "columns & segments (numpy)"),
    ("playbook/engine/expr.py", "expressions (per row)"), ("playbook/engine/policy.py", "limits & quiet hours"),
    ("playbook/engine/render.py", "rendering"), ("playbook/vocab/localtime.py", "time arithmetic"),
    ("playbook/engine/pinyin.py", "rotations"), ("playbook/vocab/model.py", "touch resolution"),
    ("playbook/engine/contacts.py", "contacts store"), ("playbook/engine/program.py", "segments & memberships"),
    ("playbook/vocab/reasons.py", "touch resolution"),
    ("playbook/plan/contract.py", "JSON output"), ("playbook/plan/jsonlines.py", "JSON output"),
    ("playbook/plan/jsonwriter.py", "JSON output"), ("playbook/plan/sections.py", "JSON output"),
    ("playbook/plan/simulate.py", "simulate"),
)  # fmt: skip


class Parts:
    """Which engine part a profiled function belongs to. Functions outside playbook/ (numpy,
    the standard library, builtins) are charged to their callers, in proportion to the time
    each caller spent in them."""

    def __init__(self, stats: dict) -> None:
        self.stats = stats
        self.spans: dict[str, list[tuple[int, int, str]]] = {}
        self.memo: dict[tuple, dict[str, float]] = {}

    def _spans(self, filename: str) -> list[tuple[int, int, str]]:
        if filename not in self.spans:
            spans = []
            try:
                tree = ast.parse(Path(filename).read_text(encoding="utf-8"))
                spans = [(n.lineno, n.end_lineno or n.lineno, n.name) for n in tree.body
                         if isinstance(n, ast.ClassDef | ast.FunctionDef)]  # fmt: skip
            except (OSError, SyntaxError):
                pass
            self.spans[filename] = spans
        return self.spans[filename]

    def own(self, func: tuple) -> str | None:
        filename, line, name = func
        f = filename.replace("\\", "/")
        if f.startswith("<frozen importlib") or name == "<module>":
            return "imports (lazy, inside run_plan)"
        if "/playbook/" not in f or "/site-packages/" in f:
            return None
        top = next((s[2] for s in self._spans(filename) if s[0] <= line <= s[1]), name)
        if f.endswith("playbook/engine/flows.py"):
            return _FLOW_PARTS.get(top, "flow dispatch")
        if f.endswith("playbook/engine/columns.py") and top == "Audience":
            return "Moments audiences (row → id lists)"
        if f.endswith("playbook/engine/core.py"):
            return _CORE_PARTS.get(name) or _CORE_PARTS.get(top) or "scheduler (timers, clock)"
        if f.endswith("playbook/plan/run.py") or f.endswith("playbook/plan/part.py"):
            return "metrics" if name == "metrics" else "plan driver (run_plan: load contacts, feed events)"
        for needle, part in _FILE_PARTS:
            if needle in f:
                return part
        return "other (playbook)"

    def where(self, func: tuple) -> tuple[str, str]:
        """(path inside the repository, top-level class or function) of a profiled function."""
        filename, line, name = func
        f = filename.replace("\\", "/")
        rel = f.split("/playbook/", 1)[1] if "/playbook/" in f and "/site-packages/" not in f else f
        top = next((s[2] for s in self._spans(filename) if s[0] <= line <= s[1]), name) if rel != f else name
        return rel, top

    def shares(self, func: tuple, seen: frozenset = frozenset()) -> dict[str, float]:
        if func in self.memo:
            return self.memo[func]
        part = self.own(func)
        if part is not None:
            out = {part: 1.0}
        else:
            callers = self.stats.get(func, (0, 0, 0, 0, {}))[4]
            total = sum(c[3] for c in callers.values()) or sum(c[2] for c in callers.values())
            out = {}
            for caller, c in callers.items():
                if caller in seen or caller == func:
                    continue
                weight = (c[3] if total else c[2]) / total if total else 1 / len(callers)
                for p, share in self.shares(caller, seen | {func}).items():
                    out[p] = out.get(p, 0.0) + weight * share
            if not out:
                out = {"other": 1.0}
        if not seen:
            self.memo[func] = out
        return out


# The plan's phases by cumulative time: (label, file under playbook/, top-level class or function, name).
# A name of "*" sums every method of the class that `fired` schedules call.
_PHASES = (
    ("compile the three playbooks", "compiler/__init__.py", "load_playbooks", "load_playbooks"),
    ("read contacts + accounts (read_records)", "data/files.py", "read_records", "read_records"),
    ("read events (read_events)", "data/files.py", "read_events", "read_events"),
    ("Engine() set-up: columns, segments, flows", "engine/core.py", "Engine", "__init__"),
    ("events: effects, segment updates, flows react (_on_event)", "engine/core.py", "Engine", "_on_event"),
    ("  of which SLAs (SlaRun.on_event)", "engine/flows.py", "SlaRun", "on_event"),
    ("  of which journeys (JourneyRun.on_event)", "engine/flows.py", "JourneyRun", "on_event"),
    ("  of which segment memberships (_memberships_changed)", "engine/core.py", "Engine", "_memberships_changed"),
    ("rotations fire (RotationRun.fired)", "engine/flows.py", "RotationRun", "fired"),
    ("groups open + invite (GroupRun.fired)", "engine/flows.py", "GroupRun", "fired"),
    ("group posts (GroupRun.step)", "engine/flows.py", "GroupRun", "step"),
    ("Moments posts (MomentsRun.fired)", "engine/flows.py", "MomentsRun", "fired"),
    ("journey steps (JourneyRun.step + timed_out)", "engine/flows.py", "JourneyRun", "step|timed_out"),
    ("SLA reminders (SlaRun.remind + deadline)", "engine/flows.py", "SlaRun", "remind|deadline"),
    ("day ticks: segments again (_day_tick)", "engine/core.py", "Engine", "_day_tick"),
    ("touch resolution (Engine._resolve)", "engine/core.py", "Engine", "_resolve"),
    ("  of which rendering text (_render)", "engine/core.py", "Engine", "_render"),
    ("  of which limits + quiet hours (policies.judge + record)", "engine/policy.py", "*", "judge|record"),
    ("  of which Touch records + flow callbacks (_finish)", "engine/core.py", "Engine", "_finish"),
    ("metrics", "plan/part.py", "metrics", "metrics"),
    ("JSON output (write_json)", "plan/jsonwriter.py", "write_json", "write_json"),
    ("  of which Moments audience lists (TouchLines._audience)", "plan/jsonlines.py", "TouchLines", "_audience"),
    ("  of which touch lines (TouchLines.pieces)", "plan/jsonlines.py", "TouchLines", "pieces"),
    ("  of which event dicts (event_json)", "plan/contract.py", "event_json", "event_json"),
)


def phases(stats: dict, parts: Parts) -> list[dict[str, Any]]:
    out = []
    for label, rel, top, names in _PHASES:
        wanted = set(names.split("|"))
        total = calls = 0.0
        for func, (_cc, nc, _tt, ct, _callers) in stats.items():
            frel, ftop = parts.where(func)
            if frel == rel and (top == "*" or ftop == top) and func[2] in wanted:
                total += ct
                calls += nc
        out.append({"phase": label, "cumulative_s": round(total, 2), "calls": int(calls)})
    run_plan = next((v for f, v in stats.items() if f[2] == "run_plan" and f[0].endswith("plan/run.py")), None)
    if run_plan is not None:  # the touches' sort inside run_plan (list.sort called from run_plan)
        sort = next((c for f, c in _callers_of(stats, "<method 'sort' of 'list' objects>").items()
                     if f[2] == "run_plan"), None)  # fmt: skip
        if sort is not None:
            at = next(i for i, x in enumerate(out) if x["phase"] == "metrics")
            out.insert(
                at, {"phase": "sort the touches (in run_plan)", "cumulative_s": round(sort[3], 2), "calls": sort[1]}
            )
    return out


def _callers_of(stats: dict, name: str) -> dict:
    for func, value in stats.items():
        if func[0] == "~" and func[2] == name:
            return value[4]
    return {}


def _short(func: tuple) -> str:
    filename, line, name = func
    f = filename.replace("\\", "/")
    for marker in ("/playbook/", "/site-packages/", "/lib/python3"):
        if marker in f:
            f = f.split(marker, 1)[1]
            f = ("playbook/" + f) if marker == "/playbook/" else f
            break
    return name if filename == "~" else f"{f}:{line}({name})"


def profile_plan(n: int, seed: int, top: int = 25) -> dict[str, Any]:
    """cProfile of run_plan (and the JSON output) in this process, on the population of n."""
    if not _LIVE and str(SNAPSHOT) not in sys.path:
        sys.path.insert(0, str(SNAPSHOT))
    from playbook.plan import jsonwriter
    from playbook.plan.run import PlanInput, run_plan

    directory, _ = ensure(n, seed)
    spec = PlanInput(
        [str(ROOT / e) for e in EXAMPLES],
        str(directory / "contacts.csv"),
        str(directory / "accounts.csv"),
        str(directory / "events.jsonl"),
        START,
        HORIZON_DAYS,
    )
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    result = prof.runcall(run_plan, spec)
    t1 = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        prof.runcall(jsonwriter.write_json, result, sink)
    t2 = time.perf_counter()
    raw = OUT / f"plan-profile-{n}.prof"
    prof.dump_stats(raw)  # for pstats / snakeviz
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    parts = Parts(stats)
    own: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for p, share in parts.shares(func).items():
            own[p] = own.get(p, 0.0) + tt * share
    total = sum(own.values())
    rows = sorted(stats.items(), key=lambda kv: -kv[1][3])
    cumulative = [{"function": _short(f), "calls": s[1], "cumulative_s": round(s[3], 3), "own_s": round(s[2], 3)}
                  for f, s in rows[:top]]  # fmt: skip
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])
    own_top = [{"function": _short(f), "calls": s[1], "own_s": round(s[2], 3), "cumulative_s": round(s[3], 3),
                "part": max(parts.shares(f).items(), key=lambda x: x[1])[0]} for f, s in rows[:top]]  # fmt: skip
    return {
        "contacts": n,
        "touches": len(result.touches),
        "raw_profile": str(raw.relative_to(ROOT)),
        "profiled_run_plan_s": round(t1 - t0, 2),
        "profiled_write_json_s": round(t2 - t1, 2),
        "phases": phases(stats, parts),
        "by_part": {
            p: {"own_s": round(s, 2), "share": round(s / total, 4)} for p, s in sorted(own.items(), key=lambda x: -x[1])
        },  # fmt: skip
        "top_cumulative": cumulative,
        "top_own": own_top,
    }


def render_profile(p: dict[str, Any]) -> str:
    lines = [
        f"cProfile of run_plan + write_json in process, {p['contacts']:,} contacts, {p['touches']:,} touches: "
        f"run_plan {p['profiled_run_plan_s']} s, write_json {p['profiled_write_json_s']} s (profiled: inflated; "
        "read the shares)",
        "",
        "phases by cumulative time (nested lines are part of the line above):",
    ]
    lines += [f"  {x['cumulative_s']:8.2f} s  {x['calls']:>10,}  {x['phase']}" for x in p["phases"]]
    lines += ["", "own time by engine part (a non-playbook function's time goes to its playbook callers):"]
    for part, x in p["by_part"].items():
        if x["share"] >= 0.001:
            lines.append(f"  {x['share'] * 100:5.1f} %  {x['own_s']:8.2f} s  {part}")
    lines += ["", "top by cumulative time:"]
    lines += [f"  {r['cumulative_s']:8.2f} s  own {r['own_s']:7.2f} s  {r['calls']:>10,}  {r['function']}"
              for r in p["top_cumulative"]]  # fmt: skip
    lines += ["", "top by own time:"]
    lines += [f"  {r['own_s']:8.2f} s  {r['calls']:>10,}  {r['function']}  [{r['part']}]" for r in p["top_own"]]
    return "\n".join(lines)


# ---- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", default="100000,1000000", help="contact counts, comma-separated (default 100k,1M)")
    ap.add_argument("--quick", action="store_true", help="10k and 100k")
    ap.add_argument("--repeat", type=int, default=0, help="runs per size (default 3 up to 100k, 1 above)")
    ap.add_argument("--table-once", action="store_true", help="time --format table once per size")
    ap.add_argument("--workers", type=int, help="plan --workers (default: the plan's own choice, one per CPU)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="population seed")
    ap.add_argument("--timeout", type=float, default=1800, help="give up on a plan process after this many s")
    ap.add_argument("--retries", type=int, default=2, help="run a failed plan process again (default 2)")
    ap.add_argument("--keep-output", action="store_true", help="keep the plan JSON under bench/out/plan/")
    ap.add_argument("--profile", type=int, metavar="N", help="also profile run_plan in process on N contacts")
    ap.add_argument("--live", action="store_true", help="plan with playbook/ as it is at each run, not a snapshot")
    ap.add_argument("--same-snapshot", action="store_true", help="reuse the last snapshot (to profile the same code)")
    ap.add_argument("--profile-only", action="store_true", help="only the profile (with --profile N)")
    args = ap.parse_args(argv)
    if args.profile_only and not args.profile:
        ap.error("--profile-only needs --profile N")
    sizes = [10_000, 100_000] if args.quick else sorted(int(x.replace("_", "")) for x in args.sizes.split(","))

    started = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = {
        "when": started.isoformat(timespec="seconds"),
        "machine": describe(),
        "command": " ".join([".venv/bin/python bench/plan_bench.py", *(argv if argv is not None else sys.argv[1:])]),
        "config": {"sizes": sizes, "seed": args.seed, "examples": list(EXAMPLES), "start": START, "days": HORIZON_DAYS},
        "sizes": [],
    }
    global _LIVE
    _LIVE = args.live
    if args.live:
        result["code"] = {"live": True}
    elif args.same_snapshot and (SNAPSHOT / "playbook").is_dir():
        result["code"] = {"dir": str(SNAPSHOT.relative_to(ROOT)), "sha256": snapshot_digest(), "reused": True}
    else:
        result["code"] = take_snapshot()
    m = result["machine"]
    log(f"code: {'playbook/ as it is at each run' if args.live else 'snapshot ' + result['code']['sha256']}")
    log(f"machine: {m['usable_cores']} cores, Python {m['python']}, load average {m['load_average']}")
    if not args.profile_only:
        exe = str(playbook_exe())
        for n in sizes:
            result["sizes"].append(bench_size(n, args, exe))
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
        result["verdicts"] = verdicts(result["sizes"])
        print(render(result), flush=True)
    if args.profile:
        log(f"profiling run_plan on {args.profile:,} contacts …")
        result["profile"] = profile_plan(args.profile, args.seed)
        print()
        print(render_profile(result["profile"]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = started.astimezone().strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    kind = "plan-profile" if args.profile_only else "plan"
    names = (f"{kind}-latest.json", f"{kind}-{stamp}{'-quick' if args.quick else ''}.json")
    for name in names:
        (OUT / name).write_text(text, encoding="utf-8")
    log(f"written: bench/out/{names[0]}, bench/out/{names[1]}")
    return 1 if any(s["failed_runs"] for s in result["sizes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
