"""The daemon survives its store: PostgreSQL unreachable for 2 s (and 20 s under -m slow)
mid-dispatch, through a TCP proxy this test controls (the machine's shared server is never
stopped); a SQLite store whose disk fills up mid-dispatch (a small tmpfs); a SQLite store
that is read-only when the daemon starts (a read-only bind mount). Meanwhile the daemon
stays up, logs one clear error, the HTTP intake answers 503 with Retry-After and stores
nothing; when the store is back it resumes by itself: every touch once, none lost."""

from __future__ import annotations

import datetime as dt
import json
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from playbook.runtime.store import Store
from tests.runtime.processes import free_port, read_jsonl, start_run, wait, write_jsonl_config

PLAYBOOK = """\
playbook "存储故障"
timezone "Asia/Shanghai"

journey 欢迎 {
  on friend_added
  dm 欢迎语
  task "跟进{name|客户}"
}

content 欢迎语 = "{name|亲}，欢迎！"
"""
TOKEN = "outage-token"
CONTACTS = 200


class Proxy:
    """A TCP proxy to 127.0.0.1:5432 that can be cut: every connection dropped and new
    ones refused, as when the server is down, until it is restored on the same port."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.up = True
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _listen(self, port: int) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        s.settimeout(0.05)
        return s

    def _serve(self) -> None:
        while not self.stopped:
            if not self.up:
                time.sleep(0.02)
                continue
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in sel.select(0.5):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            a.close()
            b.close()

    def cut(self) -> None:
        self.up = False
        self.listener.close()
        with self.lock:
            for a, b in self.pairs:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.pairs = []

    def restore(self) -> None:
        self.listener = self._listen(self.port)
        self.up = True

    def close(self) -> None:
        self.stopped = True
        self.cut()


def _setup(tmp: Path, url: str, outbox: Path, port: int, batch: int = 5, busy_timeout: float = 30) -> Path:
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    # approve = "never": the launch gate (above 50 by default) would hold these touches
    return write_jsonl_config(tmp / "playbook.toml", url, outbox, port=port, tick=0.2, batch=batch, workers=2, lease=30,
                              store_retry_cap=1, busy_timeout=busy_timeout, approve="never")  # fmt: skip


def _start(tmp: Path, config: Path) -> subprocess.Popen:
    return start_run(tmp / "p.pb", config, lang="en", env={"COLUMNS": "400", "PLAYBOOK_INTAKE_TOKEN": TOKEN})


def _keys(outbox: Path) -> list[str]:
    return [record["key"] for record in read_jsonl(outbox, skip_torn=True)]


class Client:
    """An event source that posts friend_added events in small requests and, as a good
    client does, retries a 503 after its Retry-After; records every answer's status."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/events"
        self.statuses: Counter[int] = Counter()
        self.retry_after: set[str] = set()

    def post(self, first: int, count: int) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = [{"type": "friend_added", "contact": f"c{i:04}", "at": now, "account": f"a{i % 3}",
                 "name": f"客户{i}"} for i in range(first, first + count)]  # fmt: skip
        while True:
            try:
                answer = httpx.post(self.url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            except httpx.TransportError:
                time.sleep(0.2)  # the intake is not up yet
                continue
            self.statuses[answer.status_code] += 1
            if answer.status_code != 503:
                assert answer.status_code == 200, answer.text
                return
            self.retry_after.add(answer.headers.get("Retry-After", ""))
            time.sleep(0.3)  # shorter than Retry-After: the test has no time to lose


def _run_through_an_outage(tmp: Path, url: str, outbox: Path, cut: Callable[[], None], restore: Callable[[], None],
                           seconds: float, busy_timeout: float = 30) -> tuple[Client, str]:  # fmt: skip
    port = free_port()
    config = _setup(tmp, url, outbox, port, busy_timeout=busy_timeout)
    daemon = _start(tmp, config)
    client = Client(port)
    try:
        for first in range(0, CONTACTS // 2, 20):
            client.post(first, 20)
        wait(lambda: len(_keys(outbox)) >= 20)  # mid-dispatch
        cut()
        during = threading.Thread(target=lambda: [client.post(f, 20) for f in range(CONTACTS // 2, CONTACTS, 20)])
        during.start()  # events keep coming while the store is away
        wait(lambda: client.statuses[503] >= 1, timeout=30)
        time.sleep(seconds)
        assert daemon.poll() is None  # still up
        restore()
        during.join(timeout=120)
        wait(lambda: len(set(_keys(outbox))) >= 2 * CONTACTS, timeout=90)
        time.sleep(0.5)
    except AssertionError as exc:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
        raise AssertionError(f"{exc}; outbox {len(set(_keys(outbox)))}; the daemon said:\n{err.decode()}") from None
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err.decode()
    return client, err.decode()


def _check(outbox: Path, store: Store, client: Client, err: str) -> None:
    keys = Counter(_keys(outbox))
    doubled = [k for k, n in keys.items() if n > 1]
    assert not doubled, doubled[:5]
    assert len(keys) == 2 * CONTACTS  # nothing lost, events posted during the outage included
    assert Counter(r.state for r in store.touches()) == {"sent": 2 * CONTACTS}
    assert sum(store.event_counts().values()) == CONTACTS  # each event stored once: nothing half-stored
    assert client.statuses[503] >= 1 and client.retry_after == {"5"}
    assert err.count("the store is unavailable") == 1, err  # one clear error per outage …
    assert "Check that the database is running" in err
    assert "the store is back after" in err  # … and one line when it ends
    assert "Traceback" not in err, err


@pytest.fixture
def pg_url(pg_database: sa.URL) -> Iterator[str]:
    """A schema of its own on the test database (as the `store_url` fixture makes them)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{pg_database.render_as_string(hide_password=False)}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.mark.parametrize("seconds", [2, pytest.param(20, marks=pytest.mark.slow)])
def test_postgresql_unreachable_mid_dispatch(tmp_path: Path, pg_url: str, seconds: float) -> None:
    proxy = Proxy()
    try:
        via = sa.make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        store = Store(pg_url)
        store.migrate()
        outbox = tmp_path / "outbox.jsonl"
        client, err = _run_through_an_outage(tmp_path, via, outbox, proxy.cut, proxy.restore, seconds)
        _check(outbox, store, client, err)
        store.close()
    finally:
        proxy.close()


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs (root and mount(8) needed; skipped otherwise, saying why)."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the disk-full and read-only tests need one")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_sqlite_disk_full_mid_dispatch(tmp_path: Path, tmpfs: Path) -> None:
    url = f"sqlite:///{tmpfs / 'store.db'}"
    store = Store(url)
    store.migrate()
    filler = tmpfs / "filler"

    def fill() -> None:  # the disk is full: every byte the tmpfs has left goes to another file
        with filler.open("wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass

    outbox = tmp_path / "outbox.jsonl"  # the outbox is on another disk
    client, err = _run_through_an_outage(tmp_path, url, outbox, fill, filler.unlink, 2)
    _check(outbox, store, client, err)
    assert "full" in err
    store.close()


def test_sqlite_read_only_at_start_then_writable(tmp_path: Path, tmpfs: Path) -> None:
    """The store's folder is read-only when the daemon starts (a read-only bind mount): it
    says so once, waits, and starts by itself when the folder is writable again; `status`
    reads the read-only store meanwhile."""
    url = f"sqlite:///{tmpfs / 'store.db'}"
    store = Store(url)
    store.migrate()
    store.close()
    view = tmp_path / "view"
    view.mkdir()
    _mount("--bind", str(tmpfs), str(view))
    try:
        _mount("-o", "remount,ro,bind", str(view))
        port = free_port()
        outbox = tmp_path / "outbox.jsonl"
        config = _setup(tmp_path, f"sqlite:///{view / 'store.db'}", outbox, port)
        daemon = _start(tmp_path, config)
        try:
            _starting_answers_503(port)  # the intake is up before the store: 503, not "connection refused"
            time.sleep(1)
            assert daemon.poll() is None  # waiting, not dead
            status = subprocess.run([sys.executable, "-m", "playbook", "--lang", "en", "status", "--db",
                                     str(view / "store.db"), "--format", "json"], capture_output=True, text=True,
                                    timeout=60)  # fmt: skip
            assert status.returncode == 0, status.stdout + status.stderr
            assert "touches" in json.loads(status.stdout)
            _mount("-o", "remount,rw,bind", str(view))
            client = Client(port)
            client.post(0, CONTACTS)
            wait(lambda: len(set(_keys(outbox))) >= 2 * CONTACTS, timeout=120)
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            _, raw = daemon.communicate(timeout=60)
        _one_outage_then_each_touch_once(daemon.returncode, raw.decode(), outbox)
        assert sum(Store(url).event_counts().values()) == CONTACTS  # the 503s stored nothing
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def _one_outage_then_each_touch_once(code: int | None, err: str, outbox: Path) -> None:
    """The daemon stopped cleanly, said the store was away once and back once, and every
    contact's two touches went out exactly once."""
    assert code == 0, err
    assert err.count("the store is unavailable") == 1, err
    assert "the store is back after" in err and "Traceback" not in err, err
    keys = Counter(_keys(outbox))
    assert len(keys) == 2 * CONTACTS and max(keys.values()) == 1


def _starting_answers_503(port: int, timeout: float = 30.0) -> None:
    """While the daemon starts (its store away), `POST /events` and `GET /health` are
    answered 503 with Retry-After — the intake is up before the store is reached."""
    deadline = time.monotonic() + timeout
    body = [{"type": "friend_added", "contact": "early", "at": dt.datetime.now(dt.UTC).isoformat()}]
    while True:
        try:
            answer = httpx.post(f"http://127.0.0.1:{port}/events", json=body,
                                headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)  # fmt: skip
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the intake never came up while the store was away"
            time.sleep(0.1)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5" and "starting" in answer.json()["error"]
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert health.status_code == 503 and health.headers["Retry-After"] == "5"


def test_postgresql_unreachable_at_start(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL is down when the daemon starts: the intake is up at once answering 503
    with Retry-After (nothing stored), the daemon says so once and waits; when the server is
    back it starts by itself and every touch goes out once."""
    proxy = Proxy()
    try:
        via = sa.make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        proxy.cut()
        port = free_port()
        outbox = tmp_path / "outbox.jsonl"
        daemon = _start(tmp_path, _setup(tmp_path, via, outbox, port))
        try:
            _starting_answers_503(port)
            time.sleep(2)
            assert daemon.poll() is None  # waiting, not dead
            proxy.restore()
            client = Client(port)
            client.post(0, CONTACTS)
            wait(lambda: len(set(_keys(outbox))) >= 2 * CONTACTS, timeout=120)
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            _, raw = daemon.communicate(timeout=60)
        _one_outage_then_each_touch_once(daemon.returncode, raw.decode(), outbox)
        store = Store(pg_url)
        assert sum(store.event_counts().values()) == CONTACTS  # the 503 stored nothing
        store.close()
    finally:
        proxy.close()


def test_sqlite_locked_by_another_process_mid_dispatch(tmp_path: Path) -> None:
    """Another process holds the SQLite store's write lock (BEGIN EXCLUSIVE) for 3 s, longer
    than the daemon's busy timeout (`[daemon] busy_timeout = 0.5`), mid-dispatch: "database
    is locked" is one clear error, the daemon stays up, the intake answers 503; once the lock
    is released every touch goes out once."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    store.migrate()
    holder = subprocess.Popen(  # another process: it takes the write lock on "lock", drops it on "free"
        [sys.executable, "-c", "import sqlite3, sys\n"
         f"db = sqlite3.connect({str(tmp_path / 'store.db')!r}, isolation_level=None, timeout=30)\n"
         "for line in sys.stdin:\n"
         "    db.execute('BEGIN EXCLUSIVE' if line.strip() == 'lock' else 'ROLLBACK')\n"
         "    print('ok', flush=True)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip

    def say(what: str) -> None:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write(what + "\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "ok"

    try:
        outbox = tmp_path / "outbox.jsonl"
        client, err = _run_through_an_outage(tmp_path, url, outbox, lambda: say("lock"), lambda: say("free"), 3,
                                             busy_timeout=0.5)  # fmt: skip
        _check(outbox, store, client, err)
        assert "database is locked (another process held the file's write lock" in err, err
    finally:
        holder.kill()
        holder.wait()
        store.close()
