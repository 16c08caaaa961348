"""Idle shards: what one `playbook run` process holding every shard costs while nothing happens.

    .venv/bin/python bench/idle.py                        # 64 shards, 2,000 contacts, 20 s window
    .venv/bin/python bench/idle.py --shards 8 --window 10

A fresh PostgreSQL database (`--db`, an admin URL, else $PLAYBOOK_BENCH_PG_URL, else
$PLAYBOOK_TEST_PG_URL; dropped at the end): `--accounts` staff accounts and `--contacts`
contacts imported, `--shards` recorded. One process runs `playbook run p.pb --config c.toml`
(`[daemon] shards`, `approve = "never"`, the jsonl adapter, `[intake] port = 0`) and holds
every shard; nothing happens. After `--warmup` seconds its CPU time (utime + stime from
/proc/PID/stat) and the database's transactions (pg_stat_database: xact_commit +
xact_rollback) are read, and again `--window` seconds later. The process counts its own SQL
statements too (a SQLAlchemy `before_cursor_execute` hook, written to a file on SIGUSR1).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.pg import admin_url, sql  # noqa: E402

PLAYBOOK = """\
playbook "空闲基准"
timezone "Asia/Shanghai"
content 感谢 = "{name|亲}，感谢您的购买！"
journey 购后感谢 {
  on purchase
  dm 感谢
}
"""
# the daemon under a statement counter: `playbook run`, counting every statement it sends
CHILD = """\
import signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
count, path = [0], sys.argv[1]
@event.listens_for(Engine, "before_cursor_execute")
def _count(*_):
    count[0] += 1
def _dump(*_):
    with open(path, "w") as f:
        f.write(str(count[0]))
signal.signal(signal.SIGUSR1, _dump)
sys.argv = ["playbook", *sys.argv[2:]]
from playbook.cli.main import main
main()
"""


def cpu_ticks(pid: int) -> int:
    """utime + stime of `pid`, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def transactions(admin: sa.URL, name: str) -> int:
    row = sql(admin, f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{name}'")
    return int(row[0])


def statements(pid: int, path: Path) -> int:
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(100):
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise RuntimeError("the daemon did not write its statement count")


def prepare(url: str, accounts: int, contacts: int, shards: int) -> None:
    from playbook.runtime.store import Store

    store = Store(url)
    try:
        store.migrate()
        store.import_records("accounts", [{"id": f"a{i}", "name": f"店{i}"} for i in range(accounts)])
        store.import_records("contacts", [{"id": f"c{i}", "name": f"客{i}", "account": f"a{i % accounts}"}
                                          for i in range(contacts)])  # fmt: skip
        store.record_shards(shards)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="PostgreSQL admin URL (a database is created and dropped on it)")
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--no-statements", action="store_true", help="plain `playbook run`, without the statement counter")
    args = ap.parse_args(argv)
    admin = admin_url(args.db, "bench/idle.py")
    name = f"playbook_idle_{os.getpid()}"
    sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sql(admin, f'CREATE DATABASE "{name}"')
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        prepare(url, args.accounts, args.contacts, args.shards)
        with tempfile.TemporaryDirectory(prefix="playbook-idle-") as tmp:  # noqa: SIM117
            folder = Path(tmp)
            (folder / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
            (folder / "c.toml").write_text(
                f'[store]\nurl = "{url}"\n[adapter]\nname = "jsonl"\n[adapter.options]\n'
                f'path = "{folder / "outbox.jsonl"}"\n[intake]\nport = 0\n'
                f'[daemon]\nshards = {args.shards}\napprove = "never"\n',
                encoding="utf-8",
            )
            counted = folder / "statements"
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            run = ["run", str(folder / "p.pb"), "--config", str(folder / "c.toml")]
            command = [
                sys.executable,
                *(["-m", "playbook"] if args.no_statements else ["-c", CHILD, str(counted)]),
                *run,
            ]
            with open(folder / "daemon.log", "wb") as log:
                proc = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                time.sleep(args.warmup)
                if proc.poll() is not None:
                    raise SystemExit((folder / "daemon.log").read_text())
                count = (lambda: 0) if args.no_statements else (lambda: statements(proc.pid, counted))
                ticks0, xacts0, stmts0 = cpu_ticks(proc.pid), transactions(admin, name), count()
                started = time.monotonic()
                time.sleep(args.window)
                ticks1, xacts1, stmts1 = cpu_ticks(proc.pid), transactions(admin, name), count()
                window = time.monotonic() - started
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    finally:
        sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    hz = os.sysconf("SC_CLK_TCK")
    out = {"shards": args.shards, "contacts": args.contacts, "accounts": args.accounts, "window_s": round(window, 1),
           "cpu_ticks": ticks1 - ticks0, "ticks_per_s": hz, "cpu_share": round((ticks1 - ticks0) / hz / window, 4),
           "transactions_per_s": round((xacts1 - xacts0) / window, 1),
           "statements_per_s": None if args.no_statements else round((stmts1 - stmts0) / window, 1)}  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
