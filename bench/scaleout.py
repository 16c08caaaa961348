"""The scale-out benchmark: N `playbook run` processes on one PostgreSQL store, one table.

    .venv/bin/python bench/scaleout.py                          # 1,000,000 contacts, 64 shards, 1/2/4 processes
    .venv/bin/python bench/scaleout.py --contacts 100000        # a smaller population
    .venv/bin/python bench/scaleout.py --contacts 20000 --processes 1,2 --burst 5000 --lease 5   # a quick look

The store: the bench population (bench/population.py: N contacts over N/1,000 staff
accounts) imported once into a template database with `[daemon] shards` recorded and
every contact routed to its account's shard; each process count then gets a fresh copy
(`CREATE DATABASE … TEMPLATE`). The playbook: one journey that thanks a customer for a
purchase at once (a dm per `purchase` event: no quiet hours, no limits), so every event is
one decision and one touch. The adapter: jsonl, one outbox the processes share (fenced per
shard, as deploy/compose.yaml runs it).

For each process count k (`--processes`, default 1,2,4), k real `playbook run` processes
are started at once, and measured:

- **start-up**: from the spawn to the process's log line saying it holds and has restored
  its shards (the slowest process, and the mean); then every shard held;
- **peak RSS** per process (VmHWM from /proc, after start-up and again at the end);
- **throughput**: `--burst` purchase events (default N/10, at most 100,000) stored at once
  for random contacts; touches/s from the store's commit to the last touch `sent` (decide
  + dispatch, all processes together), and per process;
- **failover** (k ≥ 2): one process is killed (SIGKILL); a purchase is stored at once for a
  contact of each of its shards; the time from the kill to the first of those touches in
  the outbox (sent by a new owner), the median over those shards, and the last. Expected:
  about `--lease` plus the restore of the shards taken before it (a new owner restores the
  shards it takes one at a time and runs each as soon as it is restored).

The PostgreSQL server: `--db` (an admin URL; databases are created and dropped on it), else
$PLAYBOOK_BENCH_PG_URL, else $PLAYBOOK_TEST_PG_URL. Results: a table, one JSON line on
stdout, and bench/out/scaleout-latest.json with a timestamped copy (bench/README.md,
"Scale-out benchmark").

Targets (issue 18): per-process RSS ≤ 1.2 × total / N; restore of a 1M-contact deployment
≤ 30 s with 4 processes; failover ≤ lease + 5 s for every moved shard.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import population  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.pg import admin_url, sql  # noqa: E402

OUT = ROOT / "bench" / "out"
PLAYBOOK = """\
playbook "扩容基准"
timezone "Asia/Shanghai"
content 感谢 = "{name|亲}，感谢您的购买！"
journey 购后感谢 {
  on purchase
  dm 感谢
}
"""
HOLDING = re.compile(r"holding shards (\S+) of \d+")  # the daemon's line once what it took is restored
TARGET_RSS_RATIO = 1.2
TARGET_RESTORE_S = 30.0  # 1M contacts, 4 processes
FAILOVER_MARGIN_S = 5.0


# ---- the server and its databases -------------------------------------------------------------------


def build_template(admin: sa.URL, name: str, folder: Path, shards: int, log: Any) -> float:
    """Migrate, import the population's accounts and contacts, record the shard count (routing
    every contact). Seconds taken."""
    from playbook.runtime.importing import import_files
    from playbook.runtime.store import Store
    from playbook.vocab.localtime import LocalTime

    sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sql(admin, f'CREATE DATABASE "{name}"')
    started = time.monotonic()
    store = Store(admin.set(database=name).render_as_string(hide_password=False))
    try:
        store.migrate()
        clock = LocalTime("Asia/Shanghai")
        import_files(store, [str(folder / "accounts.csv")], "accounts", clock)
        log(f"  importing {folder / 'contacts.csv'} …")
        import_files(store, [str(folder / "contacts.csv")], "contacts", clock)
        store.record_shards(shards)
    finally:
        store.close()
    return time.monotonic() - started


# ---- the processes -------------------------------------------------------------------------------------


class Daemon:
    """One `playbook run` process: its stderr kept (a thread), its start-up time and RSS."""

    def __init__(self, playbook: Path, config: Path, log: Path) -> None:
        self.started = time.monotonic()
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "playbook", "--lang", "en", "run", str(playbook), "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "COLUMNS": "400"},
        )  # fmt: skip
        self.holding: list[tuple[float, set[int]]] = []  # (seconds from the spawn, shards) per "holding shards …" line
        self.peak_mb = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.log.open("ab") as out:
            for raw in self.proc.stderr:
                out.write(raw)
                out.flush()
                found = HOLDING.search(raw.decode("utf-8", "replace"))
                if found:
                    self.holding.append((time.monotonic() - self.started, parse_ranges(found.group(1))))

    def ready(self, held: set[int]) -> float | None:
        """Seconds from the spawn to the line saying it holds (has restored) exactly `held`."""
        last = self.holding[-1] if self.holding else None
        return last[0] if last is not None and last[1] == held else None

    def rss(self) -> float:
        """Peak resident memory so far, MiB (VmHWM)."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
        except OSError:
            pass
        return self.peak_mb

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.rss()
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def parse_ranges(text: str) -> set[int]:
    """The daemon's "0-30,63" (`vocab.shards.ranges`) back into shards; "-" is none."""
    shards: set[int] = set()
    for part in text.split(","):
        if part and part != "-":
            first, _, last = part.partition("-")
            shards.update(range(int(first), int(last or first) + 1))
    return shards


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.1) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def scalar(engine: sa.Engine, statement: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(statement), params).scalar()


def holders(engine: sa.Engine) -> dict[int, int | None]:
    """shard → pid of its unexpired lease holder."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT shard, pid, expires_at > now() FROM leases")).all()
    return {int(r[0]): (r[1] if r[2] else None) for r in rows}


def purchases(store_url: str, contacts: Sequence[str]) -> float:
    """Store one purchase now for each contact (one transaction); the time it committed."""
    from playbook.runtime.store import Store
    from playbook.vocab.model import Event

    store = Store(store_url)
    try:
        now = int(time.time())
        store.append_events([Event("purchase", c, now, {"amount": 199}) for c in contacts], "cli")
        return time.monotonic()
    finally:
        store.close()


def outbox_contacts(path: Path, offset: int) -> tuple[list[str], int]:
    """Contacts of the whole lines written since `offset`, and the new offset."""
    if not path.exists():
        return [], offset
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    found = []
    for line in data[:end].splitlines():
        try:
            found.append(json.loads(line)["contact"])
        except (ValueError, KeyError):
            continue
    return found, offset + end


def measure(k: int, args: argparse.Namespace, admin: sa.URL, template: str, contacts: list[str], work: Path,
            log: Any) -> dict[str, Any]:  # fmt: skip
    """Start k processes on a fresh copy of the template; start-up, RSS, throughput, failover."""
    name = f"{template}_k{k}"
    sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sql(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    folder = work / f"k{k}"
    folder.mkdir()
    (folder / "bench.pb").write_text(PLAYBOOK, encoding="utf-8")
    outbox = folder / "outbox.jsonl"
    (folder / "playbook.toml").write_text(
        "\n".join([
            "[store]", f'url = "{url}"',
            "[adapter]", 'name = "jsonl"', "[adapter.options]", f'path = "{outbox}"',
            "[intake]", "port = 0",
            "[daemon]", f"shards = {args.shards}", f"lease = {args.lease}", 'approve = "never"',
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    engine = sa.create_engine(url)
    daemons: list[Daemon] = []
    result: dict[str, Any] = {"processes": k}
    try:
        daemons = [Daemon(folder / "bench.pb", folder / "playbook.toml", folder / f"run{i}.err") for i in range(k)]
        spawned = time.monotonic()
        pids = {d.proc.pid for d in daemons}
        share = -(-args.shards // k)

        def balanced() -> bool:
            """Every shard held, each process at its share, and each has said it restored what it holds."""
            dead = [d for d in daemons if d.proc.poll() is not None]
            if dead:
                raise SystemExit(f"a process exited at start: {dead[0].log.read_text(errors='replace')[-2000:]}")
            owners = holders(engine)
            held = list(owners.values())
            if not (len(held) == args.shards and set(held) <= pids and max(held.count(pid) for pid in pids) <= share):
                return False
            return all(d.ready({s for s, pid in owners.items() if pid == d.proc.pid}) is not None for d in daemons)

        wait_for(balanced, args.timeout, "every shard held and restored, each process at its share")
        balanced_after = time.monotonic() - spawned
        owners = holders(engine)
        ready = [d.ready({s for s, pid in owners.items() if pid == d.proc.pid}) or balanced_after for d in daemons]
        result["startup_s"] = {"max": round(max(ready), 2), "mean": round(statistics.mean(ready), 2),
                               "balanced_s": round(balanced_after, 2)}  # fmt: skip
        time.sleep(1.0)
        result["rss_after_start_mb"] = [round(d.rss(), 1) for d in daemons]
        log(f"  {k} processes: started in {max(ready):.1f} s (mean {statistics.mean(ready):.1f}), "
            f"RSS {result['rss_after_start_mb']} MiB")  # fmt: skip

        # throughput: a burst of purchases, decided and sent by all processes together
        rng = random.Random(args.seed)
        burst = rng.sample(contacts, min(args.burst, len(contacts)))
        committed = purchases(url, burst)
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM touches WHERE state = 'sent'") >= len(burst),
                 args.timeout * 4, "the burst to be sent", interval=0.2)  # fmt: skip
        seconds = time.monotonic() - committed
        result["throughput"] = {"touches": len(burst), "seconds": round(seconds, 2),
                                "touches_per_s": round(len(burst) / seconds), "per_process": round(len(burst) / seconds / k)}  # fmt: skip
        log(f"  {k} processes: {len(burst):,} touches in {seconds:.1f} s = {len(burst) / seconds:,.0f}/s")

        if k >= 2:
            result["failover"] = failover(daemons, engine, url, outbox, args)
            log(f"  failover: first touch of a moved shard after {result['failover']['first_s']} s, median "
                f"{result['failover']['median_s']} s, all after {result['failover']['all_s']} s (lease {args.lease} s)")  # fmt: skip
        result["peak_rss_mb"] = [round(d.rss(), 1) for d in daemons]
    finally:
        for d in daemons:
            d.stop()
        engine.dispose()
        if not args.keep:
            sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def failover(daemons: list[Daemon], engine: sa.Engine, url: str, outbox: Path, args: argparse.Namespace) -> dict:
    """Kill one process; a purchase for a contact of each of its shards at once; the time to
    the first (and the last) of those touches in the outbox."""
    victim = daemons[-1]
    shards = sorted(s for s, pid in holders(engine).items() if pid == victim.proc.pid)
    with engine.connect() as conn:
        # customers who bought nothing yet (the journey takes a customer once)
        rows = conn.execute(sa.text("SELECT DISTINCT ON (shard) id FROM contacts c WHERE shard = ANY(:s) AND NOT EXISTS "
                                    "(SELECT 1 FROM touches t WHERE t.contact = c.id) ORDER BY shard, id"),
                            {"s": shards}).all()  # fmt: skip
    probes = {r[0] for r in rows}
    offset = outbox.stat().st_size if outbox.exists() else 0
    victim.rss()
    victim.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.proc.wait()
    purchases(url, sorted(probes))
    seen: dict[str, float] = {}

    def served() -> bool:
        nonlocal offset
        found, offset = outbox_contacts(outbox, offset)
        for contact in found:
            if contact in probes and contact not in seen:
                seen[contact] = time.monotonic() - killed
        return len(seen) == len(probes)

    wait_for(served, args.lease * 4 + 60, "the moved shards' touches")
    return {"shards_moved": len(shards), "first_s": round(min(seen.values()), 2),
            "median_s": round(statistics.median(seen.values()), 2), "all_s": round(max(seen.values()), 2),
            "lease_s": args.lease}  # fmt: skip


# ---- the run ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--processes", default="1,2,4", help="process counts to measure, e.g. 1,2,4")
    ap.add_argument("--burst", type=int, default=None, help="purchases for the throughput (default N/10, ≤ 100,000)")
    ap.add_argument("--lease", type=float, default=15.0, help="[daemon] lease, seconds")
    ap.add_argument("--seed", type=int, default=population.DEFAULT_SEED)
    ap.add_argument("--db", help="a PostgreSQL admin URL (databases are created and dropped)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds any one phase may take")
    ap.add_argument("--keep", action="store_true", help="keep the databases (to look at them)")
    args = ap.parse_args(argv)
    args.burst = args.burst or min(100_000, max(1, args.contacts // 10))
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    admin = admin_url(args.db, "bench/scaleout.py")

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    log(f"population: {args.contacts:,} contacts (bench/population.py, seed {args.seed}) …")
    folder, meta = population.ensure(args.contacts, args.seed)
    contacts = [line.split(",", 1)[0] for line in (folder / "contacts.csv").read_text("utf-8").splitlines()[1:]]
    template = f"pbbench_scaleout_{args.contacts}_{args.shards}_{os.getpid()}"
    log(f"template store {template}: import, {args.shards} shards …")
    imported = build_template(admin, template, folder, args.shards, log)
    log(f"  imported in {imported:.1f} s")
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="pbbench-scaleout-") as tmp:
            for k in counts:
                rows.append(measure(k, args, admin, template, contacts, Path(tmp), log))
    finally:
        if not args.keep:
            sql(admin, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    doc = {
        "bench": "scaleout", "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": describe(),
        "contacts": args.contacts, "accounts": meta.get("accounts"), "shards": args.shards, "lease_s": args.lease,
        "burst": args.burst, "import_s": round(imported, 1), "runs": rows, "targets": targets(rows, args),
    }  # fmt: skip
    print_table(doc)
    print(json.dumps(doc, ensure_ascii=False))
    OUT.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    (OUT / "scaleout-latest.json").write_text(text, encoding="utf-8")
    (OUT / f"scaleout-{dt.datetime.now():%Y%m%d-%H%M%S}.json").write_text(text, encoding="utf-8")
    return 0


def targets(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The issue's targets against what was measured: RSS per process against the one-process
    figure / k, restore with the most processes (scaled to 1M), failover against the lease."""
    out: dict[str, Any] = {}
    single = next((r for r in rows if r["processes"] == 1), None)
    if single is not None:
        total = max(single["rss_after_start_mb"])
        out["rss"] = [{"processes": r["processes"], "max_mb": max(r["rss_after_start_mb"]),
                       "ratio_to_total_over_n": round(max(r["rss_after_start_mb"]) / (total / r["processes"]), 2),
                       "pass": max(r["rss_after_start_mb"]) <= TARGET_RSS_RATIO * total / r["processes"]}
                      for r in rows]  # fmt: skip
    most = max(rows, key=lambda r: r["processes"])
    at_1m = (
        most["startup_s"]["max"] * 1_000_000 / args.contacts if args.contacts < 1_000_000 else most["startup_s"]["max"]
    )
    out["restore"] = {"processes": most["processes"], "seconds": most["startup_s"]["max"],
                      "scaled_to_1m_s": round(at_1m, 1), "pass": at_1m <= TARGET_RESTORE_S}  # fmt: skip
    limit = args.lease + FAILOVER_MARGIN_S  # every moved shard's first touch by its new owner
    out["failover"] = [{"processes": r["processes"], "first_s": r["failover"]["first_s"], "all_s": r["failover"]["all_s"],
                        "limit_s": limit, "pass": r["failover"]["all_s"] <= limit}
                       for r in rows if "failover" in r]  # fmt: skip
    return out


def print_table(doc: dict[str, Any]) -> None:
    head = ("processes", "start-up max / mean s", "RSS per process MiB (max)", "RSS total MiB", "touches/s", "per process",
            "failover first / median / all s")  # fmt: skip
    lines = [head]
    for r in doc["runs"]:
        rss = r["peak_rss_mb"]
        fo = r.get("failover")
        lines.append((str(r["processes"]), f"{r['startup_s']['max']} / {r['startup_s']['mean']}", f"{max(rss):,.0f}",
                      f"{sum(rss):,.0f}", f"{r['throughput']['touches_per_s']:,}", f"{r['throughput']['per_process']:,}",
                      f"{fo['first_s']} / {fo['median_s']} / {fo['all_s']}" if fo else "—"))  # fmt: skip
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    print(f"scale-out: {doc['contacts']:,} contacts, {doc['shards']} shards, lease {doc['lease_s']} s, "
          f"burst {doc['burst']:,} purchases, import {doc['import_s']} s")  # fmt: skip
    for row in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    for name, value in doc["targets"].items():
        print(f"target {name}: {json.dumps(value, ensure_ascii=False)}")


if __name__ == "__main__":
    raise SystemExit(main())
