"""The dispatch benchmark: the daemon's Dispatcher against APScheduler jobs, one table.

    .venv/bin/python bench/dispatch_bench.py                        # 100k touches ours, 2,000 naive, 3 runs each
    .venv/bin/python bench/dispatch_bench.py --touches 20000 --naive-touches 200 --repeat 1   # a quick look
    .venv/bin/python bench/dispatch_bench.py --batch 5000 --no-naive  # another claim batch than the daemon's
    .venv/bin/python bench/dispatch_bench.py --profile              # also: cProfile of one dispatch run

Ours: a SQLite store (a file, WAL, as the daemon opens it) whose ledger holds N touches,
written through `Store.write(Journal(touches=[TouchRow …]))` in journals of 10,000 as the
Decider commits them — synthetic rows shaped like the engine's (see `make_touches`). The
real `Dispatcher` (the daemon's default claim batch and workers, `[daemon]` in
playbook.toml) sends them to a null adapter (every delivery SENT, batches of up to 10,000
as jsonl) until every row is `sent`. Two measurements, each on a fresh copy of the store:
throughput (everything due, rounds back to back as the daemon's turn runs them) and
timer lateness (the touches come due uniformly over a window; the loop runs the daemon's
turn, then waits `--idle` seconds; lateness = the time the adapter call returned minus
the touch's `at`, the Dispatcher's RoundReport.lateness).

Storage floor: the same claim and settle SQL through sqlite3 alone (no SQLAlchemy, no rows
made, no adapter), same batch and durability: what any dispatcher on this store could reach.

Naive: APScheduler 3's BackgroundScheduler with a SQLAlchemyJobStore on a SQLite file (the
URL form of its documentation), one `date` job per touch (`add_job(send, "date",
run_date=due, args=[key], id=key)`), the job calling the same null adapter. Throughput is
measured from the first add_job to the last job executed; lateness = execution time minus
run_date. It is slow, so it runs on fewer touches (`--naive-touches`).

Every measurement runs in a fresh child process (its peak RSS is its own) importing a
snapshot of playbook/ taken at the start (`--live`: the tree as it is), `--repeat` times;
the table shows medians. Results go to bench/out/dispatch-latest.json and a
timestamped copy; see bench/README.md, "Dispatch benchmark".

Targets (the issue): ours ≥ 20× naive, ≥ 20,000 touches/s, lateness p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CODE_ENV = "DISPATCH_BENCH_CODE"  # a folder holding the playbook/ package the workers measure (a snapshot)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if os.environ.get(CODE_ENV):
    sys.path.insert(0, os.environ[CODE_ENV])

from bench.machine import describe  # noqa: E402
from playbook.adapters.base import SENT, Adapter, Delivery, Result  # noqa: E402
from playbook.adapters.capabilities import BUILTIN, EVERYWHERE, Capabilities  # noqa: E402
from playbook.runtime.config import DaemonSection  # noqa: E402
from playbook.runtime.dispatch import DEFAULT_BATCH, Dispatcher, delivery_of  # noqa: E402
from playbook.runtime.rows import Journal, TouchRow  # noqa: E402
from playbook.runtime.store import Store  # noqa: E402

OUT = ROOT / "bench" / "out"
BASE = 1_797_076_800  # 2026-12-12 12:00 UTC (20:00 in Shanghai): the window starts here in the ledger
VERSION = "pb-4f1c2a9e77d0"
SEED = 20261212
JOURNAL = 10_000  # touches per Store.write (one Decider commit)
TARGET_RATIO = 20.0
TARGET_RATE = 20_000.0
TARGET_P99 = 1.0
DEFAULTS = DaemonSection()  # the daemon's claim batch and workers


# ---- the null adapter -----------------------------------------------------------------------------------
class NullAdapter(Adapter):
    """Sends nothing and says SENT for every delivery; remembers every key it was handed
    (list.extend is atomic under the GIL: the dispatcher's pool threads share it)."""

    name = "null"
    capabilities = Capabilities(parts=EVERYWHERE, batch_size=BUILTIN["jsonl"].batch_size)

    def __init__(self, batch_size: int | None = None) -> None:
        super().__init__()
        if batch_size is not None:  # an instance attribute: the Dispatcher reads adapter.capabilities
            self.capabilities = Capabilities(parts=EVERYWHERE, batch_size=batch_size)  # type: ignore[misc]
        self.keys: list[str] = []
        self.calls = 0

    def send(self, batch: Sequence[Delivery]) -> list[Result]:
        self.calls += 1
        self.keys.extend(d.key for d in batch)
        return [Result(d.key, SENT) for d in batch]


# The daemon's claim batch: `[daemon] batch` when set, else the adapter's batch size (≥ 500).
DEFAULT_CLAIM = DEFAULTS.batch or max(DEFAULT_BATCH, NullAdapter.capabilities.batch_size)


# ---- the ledger's touches -------------------------------------------------------------------------------
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "婷婷", "晓明", "雨涵", "子轩", "欣怡", "浩然")
_NICKS = ("Amy", "🍓草莓控", "安安妈妈", "Lucky", "小鱼儿", "Coco", "阿May", "大橙子")
_STAFF = ("小美", "阿杰", "Lily", "小雨", "阿珍", "大伟", "Nina", "小林")
_CITIES = ("静安店", "徐汇店", "浦东店", "杭州湖滨店", "南京新街口店")

# (flow, step, content, text template, parts): what the engine renders, per step
_DM = (
    ("新客欢迎", "n1", "欢迎语", "{name}您好，我是{staff}，欢迎来到{store}！新人礼已放进您的会员账户，到店出示即可领取～",
     {"images": ["https://cdn.example.com/pb/welcome.jpg"]}),
    ("新客欢迎", "n3", "三天回访", "{name}，这几天用得怎么样？有任何问题随时找我{staff}哦", {}),
    ("新客欢迎", "n6", "新品推荐", "{name}，双12新品先给您看：限时8折，老客再减30",
     {"title": "双12新品抢先看", "desc": "限时8折，老客再减30", "link": "https://shop.example.com/p/1212?src=pb"}),
    ("双12预热", "n2", "优惠券提醒", "{name}，您有一张满199减30的券今晚24点到期，别浪费啦",
     {"title": "满199减30", "miniprogram": "wx5f3a1c2b9d", "page": "pages/coupon/index?id=1212"}),
    ("沉睡唤醒", "n2", "好久不见", "好久不见{name}！店里上了新款，给您留了一份小礼物，{store}等您来拿", {}),
    ("沉睡唤醒", "n4", "生日祝福", "{name}生日快乐🎂 {store}送您一份生日礼，本月到店即可领取",
     {"images": ["https://cdn.example.com/pb/bday-1.jpg", "https://cdn.example.com/pb/bday-2.jpg"]}),
)  # fmt: skip
_TASKS = (
    ("rotation:导购回访", "回访新客 {name}（{contact}）：问问使用感受，记下需求和尺码"),
    ("rotation:导购回访", "跟进 {name}（{contact}）：看过直播，问过价格，今天内回复"),
    ("sla:消息回复", "{name} 的消息已 30 分钟没有回复，请尽快处理"),
)
_GROUP = ("双12福利群", "n2", "开团提醒", "各位亲，今晚20:00准时开抢，群里先发券，记得定好闹钟⏰", {})
_MOMENT = ("双12朋友圈", "p1", "预热", "双12，{store}全场8折起，老客再送小礼物，评论区扣1预约～",
           {"images": [f"https://cdn.example.com/pb/m1212-{i}.jpg" for i in range(3)]})  # fmt: skip


def make_touches(n: int, window: int = 10, seed: int = SEED, accounts: int = 50) -> list[TouchRow]:
    """`n` ledger rows as `TouchRow.from_touch` makes them (pending from `at`), due over
    `window` seconds from BASE, in the mix of the plan benchmark's 100k run: 63 % staff
    tasks (rotations, SLA reminders), 33 % 1:1 messages from six journey steps (text with
    images, links, mini-programs), 3 % Moments posts (an audience of 200 contacts) and 1 %
    group posts; several staff accounts, contacts over them with uneven weights, 3 %
    deferred (quiet hours). Seeded: the same arguments give the same rows."""
    rng = random.Random(seed)
    staff = [(f"wx-staff-{i:03d}", rng.choice(_STAFF), rng.choice(_CITIES)) for i in range(accounts)]
    weights = [rng.uniform(0.6, 1.4) for _ in staff]
    people = max(n // 2, 1)
    contacts = []
    for _ in range(people):
        r = rng.random()
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) if r < 0.72 else (rng.choice(_NICKS) if r < 0.94 else "亲")
        contacts.append((f"wm{rng.getrandbits(64):016x}", name, rng.choices(range(accounts), weights)[0]))
    rows: list[TouchRow] = []
    for i in range(n):
        at = BASE + (rng.randrange(window) if window > 1 else 0)
        cid, name, a = contacts[rng.randrange(people)]
        account, nick, store = staff[a]
        deferred = rng.random() < 0.03
        due = at - rng.randrange(3_600, 36_000) if deferred else at
        r = rng.random()
        contact: str | None = cid
        group = content = None
        audience = None
        parts: dict[str, Any] = {}
        if r < 0.63:
            flow, template = rng.choice(_TASKS)
            step = "task"
            channel = "task"
            key = f"{VERSION}/{flow}/{cid}/{at}/{i}"
        elif r < 0.96:
            flow, step, content, template, parts = rng.choice(_DM)
            channel = "dm"
            key = f"{VERSION}/{flow}/{cid}/{step}/{i}"
        elif r < 0.99:
            flow, step, content, template, parts = _MOMENT
            channel, contact = "moment", None
            audience = sorted(contacts[rng.randrange(people)][0] for _ in range(200))
            key = f"{VERSION}/{flow}/{account}/{i}/{at}"
        else:
            flow, step, content, template, parts = _GROUP
            channel, contact = "group", None
            group = f"{VERSION}/{flow}/{a % 7}"
            key = f"{group}/{step}/{i}"
        text = template.format(name=name, staff=nick, store=store, contact=cid)
        rows.append(TouchRow(key=key, version=VERSION, flow=flow, step=step, channel=channel, due=due,
                             state="pending", account=account, contact=contact, group=group, at=at, content=content,
                             text=text, parts=dict(parts), audience=audience,
                             outcome="deferred" if deferred else "ok",
                             reason="quiet hours 22:00–08:00" if deferred else "", next_attempt_at=at))  # fmt: skip
    # in the order the engine records them: by instant, then as TouchRequest.order (due, flow, step, key)
    rows.sort(key=lambda r: (r.at, r.due, r.flow, r.step, r.key))
    return rows


def build_store(path: Path, n: int, *, window: int = 10, seed: int = SEED, accounts: int = 50) -> dict[str, Any]:
    """A migrated SQLite store at `path` with `n` pending touches, written in journals of
    JOURNAL rows; checkpointed into one file (to be copied for each run)."""
    t0 = time.perf_counter()
    rows = make_touches(n, window, seed, accounts)
    t1 = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        store.save_version({"version": VERSION, "name": "dispatch bench"})
        t2 = time.perf_counter()
        for start in range(0, n, JOURNAL):
            store.write(Journal(touches=rows[start : start + JOURNAL]))
        t3 = time.perf_counter()
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    channels: dict[str, int] = {}
    for r in rows:
        channels[r.channel] = channels.get(r.channel, 0) + 1
    return {"touches": n, "generate_s": t1 - t0, "write_s": t3 - t2, "write_per_s": n / (t3 - t2),
            "by_channel": dict(sorted(channels.items())), "accounts": len({r.account for r in rows}),
            "db_bytes": path.stat().st_size}  # fmt: skip


def copy_store(template: Path, to: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{to}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, to)
    return to


# ---- ours ------------------------------------------------------------------------------------------------
def _quantile(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _lateness(xs: Sequence[float]) -> dict[str, Any]:
    return {"p50_s": _quantile(xs, 0.5), "p99_s": _quantile(xs, 0.99), "max_s": max(xs) if xs else None}


def run_ours(path: Path, *, mode: str = "throughput", window: int = 10, lead: float = 1.0, idle: float = 0.05,
             batch: int = DEFAULT_CLAIM, workers: int = DEFAULTS.workers, batch_size: int | None = None,
             timeout: float = 600.0) -> dict[str, Any]:  # fmt: skip
    """Dispatch every pending touch of the store at `path` to the null adapter.

    throughput: the clock stands after the window (everything due); rounds back to back
    until a claim comes back empty. lateness: the clock is moved so that the window starts
    `lead` seconds from now; the daemon's turn (rounds until one claims less than the
    batch), then `idle` seconds of waiting, until every touch is sent."""
    store = Store(f"sqlite:///{path}")
    adapter = NullAdapter(batch_size)
    start = time.time()
    if mode == "throughput":
        offset = BASE + window + 1 - start
    elif mode == "lateness":
        offset = BASE - (start + lead)
    else:
        raise ValueError(f"unknown mode {mode!r}")

    def clock() -> float:
        return time.time() + offset

    dispatcher = Dispatcher(store, adapter, owner="bench", batch=batch, workers=workers, clock=clock)
    total = store.status().touches.get("pending", 0)
    sent = rounds = calls = 0
    lateness: list[float] = []
    first = last = None
    try:
        if mode == "throughput":
            first = time.perf_counter()
            while True:
                report = dispatcher.run_once()
                rounds += 1
                if not report.claimed:
                    break
                sent, calls, last = sent + report.sent, calls + report.calls, time.perf_counter()
                lateness += report.lateness
        else:
            deadline = time.time() + lead + window + timeout
            while sent < total and time.time() < deadline:
                while True:  # the daemon's turn
                    report = dispatcher.run_once()
                    rounds += 1
                    if report.claimed and first is None:
                        first = time.perf_counter()
                    if report.claimed:
                        sent, calls, last = sent + report.sent, calls + report.calls, time.perf_counter()
                        lateness += report.lateness
                    if report.claimed < dispatcher.batch:
                        break
                time.sleep(idle)
    finally:
        dispatcher.close()
    states = store.status().touches
    store.close()
    elapsed = (last - first) if first is not None and last is not None else 0.0
    keys = adapter.keys
    return {
        "mode": mode,
        "touches": total,
        "sent": sent,
        "states": dict(sorted(states.items())),
        "adapter_deliveries": len(keys),
        "adapter_distinct": len(set(keys)),
        "twice": len(keys) - len(set(keys)),
        "rounds": rounds,
        "calls": calls,
        "elapsed_s": elapsed,
        "per_s": sent / elapsed if elapsed and mode == "throughput" else None,
        "lateness": _lateness(lateness),
        "batch": batch,
        "workers": workers,
        "batch_size": adapter.capabilities.batch_size,
        "idle_s": idle if mode == "lateness" else None,
    }


# ---- the storage floor ------------------------------------------------------------------------------------
def run_floor(path: Path, *, window: int = 10, batch: int = DEFAULT_CLAIM, sync: str = "FULL") -> dict[str, Any]:
    """The claim and settle statements the store runs on SQLite, through sqlite3 alone —
    no SQLAlchemy, no rows made, no adapter: with the daemon's durability (WAL,
    synchronous=FULL; `sync` to try another) and `batch` rows a round, what this schema
    allows on this machine."""
    if sync.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"not a synchronous setting: {sync!r}")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={sync.upper()}")
    now = BASE + window + 1
    claim = (
        "UPDATE touches SET state = 'sending', owner = 'floor', attempts = attempts + 1, updated_at = ? "
        "WHERE rowid IN (SELECT rowid FROM touches INDEXED BY ix_touches_due WHERE state IN ('pending', 'failed') "
        "AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?) "
        "AND state IN ('pending', 'failed') AND next_attempt_at <= ? RETURNING *"
    )
    settle = (
        "UPDATE touches SET state = 'sent', error = NULL, adapter = 'null', next_attempt_at = NULL, updated_at = ? "
        "WHERE state = 'sending' AND owner = 'floor' AND key IN ({})"
    )
    spent = {"claim": 0.0, "settle": 0.0, "commit": 0.0}
    sent = 0
    start = time.perf_counter()
    while True:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        keys = [row[0] for row in db.execute(claim, (stamp, now, batch, now))]
        t1 = time.perf_counter()
        db.execute("COMMIT")
        t2 = time.perf_counter()
        if not keys:
            break
        db.execute("BEGIN IMMEDIATE")
        for at in range(0, len(keys), 2000):
            chunk = keys[at : at + 2000]
            db.execute(settle.format(", ".join("?" * len(chunk))), (stamp, *chunk))
        t3 = time.perf_counter()
        db.execute("COMMIT")
        t4 = time.perf_counter()
        spent["claim"] += t1 - t0
        spent["settle"] += t3 - t2
        spent["commit"] += t2 - t1 + t4 - t3
        sent += len(keys)
    elapsed = time.perf_counter() - start
    left = db.execute("SELECT count(*) FROM touches WHERE state != 'sent'").fetchone()[0]
    db.close()
    return {"touches": sent + left, "sent": sent, "left": left, "elapsed_s": elapsed,
            "per_s": sent / elapsed if elapsed else None, "batch": batch, "synchronous": sync.upper(),
            "us_per_touch": {k: v / max(sent, 1) * 1e6 for k, v in spent.items()}}  # fmt: skip


# ---- naive: one APScheduler job per touch ----------------------------------------------------------------
_NAIVE: dict[str, Any] = {}


def naive_send(key: str) -> None:
    """The job: look the touch up (in memory: kinder to the naive way than a query) and
    hand it to the null adapter."""
    state = _NAIVE
    state["adapter"].send([delivery_of(state["rows"][key])])
    done = time.time()
    with state["lock"]:
        state["executed"].append((key, done))
        if len(state["executed"]) >= state["n"]:
            state["all"].set()


def run_naive(directory: Path, n: int, *, mode: str = "throughput", window: int = 10, lead: float | None = None,
              seed: int = SEED, timeout: float = 600.0) -> dict[str, Any]:  # fmt: skip
    """APScheduler 3: BackgroundScheduler, SQLAlchemyJobStore on a SQLite file, a `date`
    job per touch. throughput: every job due at once (run_date = when it is added), the
    scheduler running while they are added. lateness: run_dates spread uniformly over
    `window` seconds from `lead` seconds after the start (lead: long enough for the adds)."""
    import logging

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # one INFO line per job otherwise
    rows = make_touches(n, window, seed)
    db = directory / f"jobs-{os.getpid()}-{time.monotonic_ns()}.sqlite"
    _NAIVE.clear()
    _NAIVE.update(rows={r.key: r for r in rows}, adapter=NullAdapter(), executed=[], n=n, lock=threading.Lock(),
                  all=threading.Event())  # fmt: skip
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")},
        timezone="UTC",
        job_defaults={"misfire_grace_time": None},  # run every job however late (the default, 1 s, drops them)
    )
    scheduler.start()
    try:
        if mode == "throughput":
            run_dates = None
        elif mode == "lateness":
            if lead is None:  # time a few adds (after a first one) to know how long adding all of them takes
                far = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
                scheduler.add_job(naive_send, "date", run_date=far, args=["-"], id="probe")
                probe = time.perf_counter()
                for i in range(20):
                    scheduler.add_job(naive_send, "date", run_date=far, args=["-"], id=f"probe-{i}")
                scheduler.remove_all_jobs()
                lead = 0.5 + 3.0 * n * (time.perf_counter() - probe) / 20
            t_window = time.time() + lead
            rng = random.Random(seed)
            offsets = sorted(rng.uniform(0, window) for _ in range(n))
            run_dates = [t_window + x for x in offsets]
        else:
            raise ValueError(f"unknown mode {mode!r}")
        scheduled: dict[str, float] = {}
        t0 = time.perf_counter()
        w0 = time.time()
        for i, row in enumerate(rows):
            due = time.time() if run_dates is None else run_dates[i]
            scheduled[row.key] = due
            scheduler.add_job(naive_send, "date", run_date=dt.datetime.fromtimestamp(due, dt.UTC), args=[row.key],
                              id=row.key)  # fmt: skip
        added = time.perf_counter() - t0
        added_by = time.time()
        finished = _NAIVE["all"].wait(timeout + (lead or 0) + window)
    finally:
        scheduler.shutdown(wait=True)
    executed = _NAIVE["executed"]
    keys = [k for k, _ in executed]
    last = max((t for _, t in executed), default=w0)
    late = [t - scheduled[k] for k, t in executed]
    elapsed = last - w0
    return {
        "mode": mode,
        "touches": n,
        "executed": len(executed),
        "adapter_deliveries": len(_NAIVE["adapter"].keys),
        "twice": len(keys) - len(set(keys)),
        "finished": finished,
        "add_s": added,
        "adds_done_before_window": None if run_dates is None else added_by <= min(run_dates),
        "lead_s": lead,
        "elapsed_s": elapsed,
        "per_s": len(executed) / elapsed if elapsed and mode == "throughput" else None,
        "lateness": _lateness(late),
        "over_1s_late": sum(x > 1.0 for x in late),  # APScheduler's default misfire_grace_time would skip these
        "jobstore": "SQLAlchemyJobStore(url='sqlite:///jobs.sqlite'), BackgroundScheduler, ThreadPoolExecutor(10)",
    }


# ---- workers: one measurement per child process -----------------------------------------------------------
def peak_rss_mib() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def work(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "setup":
        out = build_store(Path(spec["path"]), spec["touches"], window=spec["window"], seed=spec["seed"],
                          accounts=spec["accounts"])  # fmt: skip
    elif kind == "ours":
        path = copy_store(Path(spec["template"]), Path(spec["path"]))
        out = run_ours(path, mode=spec["mode"], window=spec["window"], lead=spec["lead"], idle=spec["idle"],
                       batch=spec["batch"], workers=spec["workers"], batch_size=spec["batch_size"])  # fmt: skip
    elif kind == "floor":
        out = run_floor(copy_store(Path(spec["template"]), Path(spec["path"])), window=spec["window"],
                        batch=spec["batch"], sync=spec["floor_sync"])  # fmt: skip
    elif kind == "profile":
        out = {"text": profile(Path(spec["template"]), Path(spec["path"]), Path(spec["out"]), spec)}
    elif kind == "naive":
        out = run_naive(Path(spec["dir"]), spec["touches"], mode=spec["mode"], window=spec["window"],
                        lead=spec.get("lead"), seed=spec["seed"])  # fmt: skip
    else:
        raise ValueError(f"unknown worker {kind!r}")
    out["peak_rss_mib"] = peak_rss_mib()
    out["code"] = str(Path(sys.modules[Store.__module__].__file__ or "").parents[2])
    return out


def take_snapshot(to: Path) -> str:
    """Copy playbook/ and grammar/ as they are now (others edit them while a run takes
    minutes), so that every worker measures the same code; the copy's sha256."""
    for sub in ("playbook", "grammar"):
        shutil.copytree(ROOT / sub, to / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    digest = hashlib.sha256()
    for path in sorted(p for p in to.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(to)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def call(kind: str, spec: dict[str, Any], in_process: bool, code: Path | None = None) -> dict[str, Any]:
    """One measurement: in a fresh child process (importing playbook from `code` when
    given), or here."""
    if in_process:
        return work(kind, spec)
    env = dict(os.environ)
    if code is not None:
        env[CODE_ENV] = str(code)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", kind, json.dumps(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the {kind} worker failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- the figures ------------------------------------------------------------------------------------------
def _median(xs: Sequence[float | None]) -> float | None:
    good = [x for x in xs if x is not None]
    return statistics.median(good) if good else None


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the runs of each kind, and the verdicts."""

    def med(kind: str, *path: str) -> float | None:
        values = []
        for r in runs.get(kind, []):
            v: Any = r
            for p in path:
                v = v.get(p) if isinstance(v, dict) else None
            values.append(v)
        return _median(values)

    ours, naive = med("ours", "per_s"), med("naive", "per_s")
    ratio = ours / naive if ours and naive else None
    p99 = med("ours_lateness", "lateness", "p99_s")
    figures = {
        "ours_per_s": ours,
        "naive_per_s": naive,
        "ratio": ratio,
        "ours_lateness_p50_s": med("ours_lateness", "lateness", "p50_s"),
        "ours_lateness_p99_s": p99,
        "naive_lateness_p50_s": med("naive_lateness", "lateness", "p50_s"),
        "naive_lateness_p99_s": med("naive_lateness", "lateness", "p99_s"),
        "naive_add_per_s": _median([r["touches"] / r["add_s"] for r in runs.get("naive", []) if r.get("add_s")]),
        "peak_rss_mib": {k: max((r["peak_rss_mib"] for r in rs), default=None) for k, rs in runs.items()},
    }
    floor = med("floor", "per_s")
    figures["floor_per_s"] = floor
    figures["ours_of_floor"] = ours / floor if ours and floor else None
    figures["floor_us_per_touch"] = {
        part: med("floor", "us_per_touch", part) for part in ("claim", "settle", "commit")
    }  # fmt: skip
    setup = (runs.get("setup") or [{}])[0]
    if ours and setup.get("write_s"):  # like for like with naive (which includes writing its jobs)
        n = setup["touches"]
        figures["ours_write_and_dispatch_per_s"] = n / (setup["write_s"] + n / ours)
        if naive:
            figures["ratio_write_and_dispatch"] = figures["ours_write_and_dispatch_per_s"] / naive

    def verdict(value: float | None, target: str, ok: Callable[[float], bool]) -> dict[str, Any]:
        return {"value": value, "target": target, "pass": None if value is None else ok(value)}

    verdicts = {
        "ratio": verdict(ratio, f">= {TARGET_RATIO:.0f}x", lambda x: x >= TARGET_RATIO),
        "rate": verdict(ours, f">= {TARGET_RATE:,.0f}/s", lambda x: x >= TARGET_RATE),
        "p99": verdict(p99, f"<= {TARGET_P99} s", lambda x: x <= TARGET_P99),
    }
    counts_ok = all(  # every touch handed to the adapter once, and (ours) every ledger row sent
        r.get("twice") == 0
        and r.get("sent", r.get("executed")) == r["touches"]
        and r.get("adapter_deliveries") == r["touches"]
        and r.get("states", {"sent": r["touches"]}) == {"sent": r["touches"]}
        for kind, rs in runs.items()
        if kind in ("ours", "ours_lateness", "naive", "naive_lateness")
        for r in rs
    ) and all(r["left"] == 0 for r in runs.get("floor", []))
    return {"figures": figures, "verdicts": verdicts, "counts_ok": counts_ok}


def _progress(r: dict[str, Any]) -> str:
    late = r.get("lateness") or {"p50_s": None, "p99_s": None}
    text = f"{r.get('sent', r.get('executed')):,} of {r['touches']:,} sent in {r['elapsed_s']:.2f} s"
    text += f" = {r['per_s']:,.0f}/s" if r.get("per_s") else ""
    text += f", {r['rounds']} rounds, {r['calls']:,} adapter calls" if "rounds" in r else ""
    text += f", adding the jobs took {r['add_s']:.2f} s" if "add_s" in r else ""
    if "us_per_touch" in r:
        return text + ", µs a touch: " + ", ".join(f"{k} {v:.1f}" for k, v in r["us_per_touch"].items())
    return text + f"; lateness p50 {_f(late['p50_s'], '.3f')} s, p99 {_f(late['p99_s'], '.3f')} s"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "MISS")


def _f(x: float | None, fmt: str = ",.0f", unit: str = "") -> str:
    return "—" if x is None else f"{x:{fmt}}{unit}"


def render(result: dict[str, Any]) -> str:
    m, c, s = result["machine"], result["config"], result["summary"]
    f, v = s["figures"], s["verdicts"]
    setup = result["runs"]["setup"][0]
    rss, fl = f["peak_rss_mib"], f["floor_us_per_touch"]
    lines = [
        f"machine: {m['cpu']}, {m['usable_cores']} of {m['cores']} cores usable, {m['memory_gib']} GiB, "
        f"{m['implementation']} {m['python']}; commit {m['git_commit']}"
        f"{' (+ uncommitted playbook/)' if m['git_dirty'] else ''}; load average {m['load_average']} at start, "
        f"{result['load_average_end']} at end",
        f"ours: SQLite file (WAL) with {setup['touches']:,} pending touches {setup['by_channel']} over "
        f"{setup['accounts']} accounts, written by Store.write in journals of {JOURNAL:,} "
        f"({setup['write_per_s']:,.0f} touches/s); Dispatcher batch {c['batch']}, workers {c['workers']}, "
        f"null adapter batch_size {c['batch_size']:,}",
        f"naive: APScheduler 3 BackgroundScheduler + SQLAlchemyJobStore (sqlite file), one date job per touch, "
        f"{c['naive_touches']:,} touches (fewer: it is slow) — every rate below is per touch, so they compare",
        f"medians of {c['repeat']} runs, each in a fresh process on a fresh copy of the store",
        "",
        f"ours: dispatch, everything due                 {_f(f['ours_per_s'])} touches/s",
        f"  storage floor: the same SQL through sqlite3    {_f(f['floor_per_s'])} touches/s "
        f"(synchronous={c['floor_sync'].upper()}; ours = "
        f"{_f(f['ours_of_floor'], '.0%')} of it; µs a touch: claim {_f(fl['claim'], '.1f')}, settle "
        f"{_f(fl['settle'], '.1f')}, commits {_f(fl['commit'], '.1f')})",
        f"ours: write the ledger + dispatch               {_f(f.get('ours_write_and_dispatch_per_s'))} touches/s",
        f"naive: first add_job → last job executed        {_f(f['naive_per_s'])} touches/s "
        f"(add_job alone {_f(f['naive_add_per_s'])}/s)",
        f"ratio ours / naive                              {_f(f['ratio'], ',.1f', '×')} "
        f"(write + dispatch: {_f(f.get('ratio_write_and_dispatch'), ',.1f', '×')})",
        f"ours lateness, {c['touches']:,} due over {c['window']} s   p50 {_f(f['ours_lateness_p50_s'], '.3f', ' s')}"
        f"  p99 {_f(f['ours_lateness_p99_s'], '.3f', ' s')}  (the daemon's turn, then {c['idle']} s idle)",
        f"naive lateness, {c['naive_touches']:,} due over {c['window']} s   p50 "
        f"{_f(f['naive_lateness_p50_s'], '.3f', ' s')}  p99 {_f(f['naive_lateness_p99_s'], '.3f', ' s')}",
        f"peak RSS MiB: ours {_f(rss.get('ours'))} (lateness run {_f(rss.get('ours_lateness'))}), naive "
        f"{_f(rss.get('naive'))} (lateness run {_f(rss.get('naive_lateness'))}), writing the ledger "
        f"{_f(rss.get('setup'))}",
        f"counts: every touch sent exactly once in every run: {'yes' if s['counts_ok'] else 'NO'}",
        "",
        *(f"{label:<28}{value:>12}  target {v[k]['target']:>12}  {_verdict(v[k]['pass'])}"
          for k, label, value in (("ratio", "ours / naive", _f(v["ratio"]["value"], ",.1f", "×")),
                                  ("rate", "ours touches/s", _f(v["rate"]["value"])),
                                  ("p99", "ours lateness p99", _f(v["p99"]["value"], ".3f", " s")))),
    ]  # fmt: skip
    late = result["runs"].get("naive_lateness") or []
    if any(r["over_1s_late"] for r in late):
        over = _median([r["over_1s_late"] for r in late])
        lines.append(f"(naive: {over:,.0f} of {c['naive_touches']:,} jobs ran more than 1 s late; APScheduler's "
                     "default misfire_grace_time of 1 s would have skipped them — this run sets it to None)")  # fmt: skip
    return "\n".join(lines)


# ---- profile ----------------------------------------------------------------------------------------------
def profile(template: Path, path: Path, out: Path, spec: dict[str, Any], top: int = 30) -> str:
    """cProfile of one throughput run (the raw profile to `out`, for pstats or snakeviz)."""
    copy_store(template, path)
    prof = cProfile.Profile()
    prof.enable()
    run = run_ours(path, batch=spec["batch"], workers=spec["workers"], batch_size=spec["batch_size"],
                   window=spec["window"])  # fmt: skip
    prof.disable()
    prof.dump_stats(out)
    text = [f"cProfile of one throughput run: {run['sent']:,} sent, {_f(run['per_s'])}/s under the profiler "
            f"(inflated: read the shares); raw profile {out}"]  # fmt: skip
    for order in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(order).print_stats(top)
        text.append(buf.getvalue())
    return "\n".join(text)


# ---- main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--touches", type=int, default=100_000, help="touches in our ledger (default 100,000)")
    ap.add_argument("--naive-touches", type=int, default=2_000, help="APScheduler jobs (default 2,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3; medians)")
    ap.add_argument("--window", type=int, default=10, help="seconds the touches come due over, lateness runs")
    ap.add_argument("--lead", type=float, default=1.0, help="seconds from the start of a lateness run to its window")
    ap.add_argument("--idle", type=float, default=0.05, help="seconds between turns in the lateness run (default 0.05)")
    ap.add_argument("--batch", type=int, default=DEFAULT_CLAIM, help="rows claimed per round (the daemon's default)")
    ap.add_argument("--workers", type=int, default=DEFAULTS.workers, help="adapter calls at once (daemon's default)")
    ap.add_argument("--batch-size", type=int, default=NullAdapter.capabilities.batch_size, help="deliveries per call")
    ap.add_argument("--accounts", type=int, default=50, help="staff accounts (default 50)")
    ap.add_argument(
        "--floor-sync", default="FULL", help="SQLite synchronous for the storage floor (the daemon's: FULL)"
    )
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-naive", action="store_true", help="only ours (no ratio)")
    ap.add_argument("--profile", action="store_true", help="also a cProfile of one throughput run")
    ap.add_argument("--live", action="store_true", help="measure playbook/ as it is at each run, not a snapshot")
    ap.add_argument("--code", type=Path, help="measure the playbook/ package in this folder instead")
    ap.add_argument("--in-process", action="store_true", help="no child processes (tests; RSS is then shared)")
    ap.add_argument("--out", type=Path, default=OUT, help="where the JSON goes (default bench/out)")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(work(args.worker[0], json.loads(args.worker[1]))), flush=True)
        return 0

    started = dt.datetime.now(dt.UTC)
    config = {k: getattr(args, k) for k in ("touches", "naive_touches", "repeat", "window", "lead", "idle", "batch",
                                            "workers", "batch_size", "accounts", "seed", "floor_sync")}  # fmt: skip
    result: dict[str, Any] = {
        "when": started.isoformat(timespec="seconds"),
        "machine": describe(),
        "command": " ".join(
            [".venv/bin/python bench/dispatch_bench.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "config": config,
        "runs": {},
    }
    runs: dict[str, list[dict[str, Any]]] = result["runs"]
    scratch = Path(tempfile.mkdtemp(prefix=f"dispatch-bench-{os.getpid()}-"))
    try:
        code: Path | None = None
        if args.code:
            code = args.code.resolve()
            result["code"] = {"dir": str(code)}
        elif not args.live and not args.in_process:
            code = scratch / "code"
            result["code"] = {"snapshot_sha256": take_snapshot(code)}
        else:
            result["code"] = {"live": True}

        def measure(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
            return call(kind, spec, args.in_process, code)

        template = scratch / "template.db"
        log(f"writing the ledger: {args.touches:,} touches into {template} …")
        runs["setup"] = [measure("setup", {"path": str(template), "touches": args.touches, "window": args.window,
                                           "seed": args.seed, "accounts": args.accounts})]  # fmt: skip
        setup = runs["setup"][0]
        log(f"  {setup['write_s']:.1f} s ({setup['write_per_s']:,.0f} touches/s), code from {setup['code']}")
        ours = {"template": str(template), "path": str(scratch / "run.db"), "window": args.window,
                "lead": args.lead, "idle": args.idle, "batch": args.batch, "workers": args.workers,
                "batch_size": args.batch_size, "floor_sync": args.floor_sync}  # fmt: skip
        naive = {"dir": str(scratch), "touches": args.naive_touches, "window": args.window, "seed": args.seed}
        plan = [
            ("ours", "ours", {**ours, "mode": "throughput"}),
            ("ours_lateness", "ours", {**ours, "mode": "lateness"}),
            ("floor", "floor", ours),
        ]
        if not args.no_naive:
            plan += [("naive", "naive", {**naive, "mode": "throughput"}),
                     ("naive_lateness", "naive", {**naive, "mode": "lateness"})]  # fmt: skip
        for i in range(args.repeat):  # the kinds take turns: a burst of load elsewhere hits them alike
            for name, kind, spec in plan:
                r = measure(kind, spec)
                runs.setdefault(name, []).append(r)
                log(f"{name}, run {i + 1}/{args.repeat}: {_progress(r)}")
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
        result["summary"] = summarize(runs)
        print(render(result), flush=True)
        if args.profile:
            args.out.mkdir(parents=True, exist_ok=True)
            spec = {**ours, "out": str(args.out.resolve() / "dispatch-profile.prof")}
            result["profile"] = measure("profile", spec)["text"]
            print()
            print(result["profile"], flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.astimezone().strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    for name in ("dispatch-latest.json", f"dispatch-{stamp}.json"):
        (args.out / name).write_text(text, encoding="utf-8")
    log(f"written: {args.out / 'dispatch-latest.json'}")
    return 0 if result["summary"]["counts_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
