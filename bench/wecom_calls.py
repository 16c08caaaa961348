"""WeCom API calls: how many the adapter makes, for the issue's figures.

    .venv/bin/python bench/wecom_calls.py            # every figure (about two minutes)
    .venv/bin/python bench/wecom_calls.py --days 3   # a shorter simulation

1. API calls per 10,000 same-content dm touches of one account: 10,000 ledger rows due at one
   instant, through the daemon's Dispatcher and the WeCom adapter to the WeCom-compatible test
   server, with the daemon's default claim (one full adapter batch: 10,000 rows for WeCom) and
   with an explicit `[daemon] batch = 500`.
2. API calls per simulated day for the example population: the shared examples with
   playbooks/contacts.csv, accounts.csv and events.jsonl in the daemon's Decider + Dispatcher
   (the wecom adapter's limits shared, tags synced, groups not dissolvable) on a simulated
   clock, staff confirming each task 10 minutes after it is created, receipts asked every 60
   simulated seconds — counted by endpoint on the server.

3. API calls for a first contact sync (`playbook import --from wecom`) of 10,000 customers across
   10 staff members: the adapter's `sync` against the test server's directory (each customer with
   a remark, an add time, a channel state, an add way and two corp tags; 1 in 10 followed by a
   second member), with and without `personal_tags` (which reads each customer once with
   externalcontact/get). The sync paces itself below WeCom's 10,000 calls a minute (90454);
   the simulated minutes it waited are shown.
   The example population (2.) runs with `sync = "6h"`: its daemon re-reads contacts four times a
   day, and the server's directory holds playbooks/contacts.csv's customers and tags.

`simulate` is also what tests/wecom/test_end_to_end.py runs (with assertions instead of a
table). Everything is in process; the server listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playbook.adapters.base import HttpRequest  # noqa: E402
from playbook.adapters.wecom import crypto  # noqa: E402
from playbook.adapters.wecom.adapter import CALLBACK_PATH, WeComAdapter  # noqa: E402
from playbook.data.files import read_events  # noqa: E402
from playbook.plan.jsonwriter import to_json  # noqa: E402
from playbook.plan.run import PlanInput, run_plan  # noqa: E402
from playbook.runtime.decide import Decider  # noqa: E402
from playbook.runtime.dispatch import Dispatcher, RetryPolicy  # noqa: E402
from playbook.runtime.importing import import_files, import_synced, known_contacts, sync_contacts  # noqa: E402
from playbook.runtime.rows import Journal, TouchRow  # noqa: E402
from playbook.runtime.store import Store  # noqa: E402
from playbook.testing.wecom_directory import Relation  # noqa: E402
from playbook.testing.wecom_server import WeComServer, event_xml  # noqa: E402

EXAMPLES = sorted((ROOT.parent / "shared" / "examples").glob("*.pb")) or [
    ROOT / "playbooks" / name for name in ("moments_and_service.pb", "new_customer.pb", "presale_group.pb")
]
DATA = ROOT / "playbooks"
CORP, SECRET, AGENT = "wwbench000001", "bench-secret", 1000002
CALLBACK_TOKEN, CALLBACK_KEY = "benchtoken", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
TEMPLATE_CHATS = {"车厘子预售群": {a: [f"wrCherryTemplate-{a}"] for a in ("a1", "a2", "a3")}}  # one per account
IMAGES = {"assets/new.jpg": b"\xff\xd8\xff\xe0-new-arrivals-jpeg", "assets/cherry.jpg": b"\xff\xd8\xff\xe0-cherries"}


class Clock:
    """The simulated time, shared by the daemon's halves, the adapter and the server."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Run:
    server: WeComServer
    store: Store
    adapter: WeComAdapter
    plan: dict[str, Any]  # `playbook plan --format json` of the same inputs
    start: int
    end: int
    clock: Clock
    days: int
    calls: list[Any] = field(default_factory=list)

    def close(self) -> None:
        self.adapter.close()
        self.store.close()
        self.server.stop()


def declare_world(server: WeComServer) -> None:
    """The example population's friendships and chats on the server, which knows only what it
    is told (strict, as WeCom): each customer is their account's, as contacts.csv and the
    friend_added events say; each account owns its template chats."""
    import csv

    with open(DATA / "accounts.csv", encoding="utf-8") as handle:
        server.add_staff(*(row["id"] for row in csv.DictReader(handle)))
    with open(DATA / "contacts.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("account"):
                server.add_customer(row["id"], row["account"])
    with open(DATA / "events.jsonl", encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line) if line.strip() else {}
            if event.get("type") == "friend_added" and event.get("account"):
                server.add_customer(event["contact"], event["account"])
    for chats in TEMPLATE_CHATS.values():
        for account, ids in chats.items():
            for chat in ids:
                server.add_chat(chat, account)


def simulate(tmp: Path, *, days: int = 8, start: str = "2026-12-01 00:00", auto_confirm: float = 600,
             quota_limit: int | None = None, tick: float = 60.0, timeout: float = 10.0,
             faults: Sequence[tuple[int, Callable[[WeComServer], None]]] = (), workers: int = 1,
             settle_hours: int = 3, sync: str | None = None, welcome: bool = False) -> Run:  # fmt: skip
    """The examples in the daemon with the WeCom adapter against the test server, over `days`
    simulated days: a step at every engine wake-up and at least every `tick` seconds (the
    daemon's receipts interval), each followed by dispatch rounds and a receipts round.
    `faults` are (seconds after start, action on the server), applied when the clock passes
    them. After the horizon, `settle_hours` more of receipts rounds let the last tasks be
    confirmed. With `sync` (the adapter option, e.g. "6h"), the server's directory holds the
    contacts file's customers and tags, and the contacts are synced from it as the daemon
    does. With `welcome`, each friend_added of events.jsonl comes as WeCom's add_external_contact
    callback with a WelcomeCode at its time (not from the file), and new_customer.pb's greeting
    is written as the journey's first step without a timing (`dm 欢迎语`, not `after 5m: …`), so
    it can go through send_welcome_msg. Close the returned Run."""
    paths = [str(p) for p in EXAMPLES]
    if welcome:
        paths = greeting_at_once(paths, tmp)
    contacts, accounts, events = str(DATA / "contacts.csv"), str(DATA / "accounts.csv"), str(DATA / "events.jsonl")
    media = tmp / "media"
    for name, data in IMAGES.items():
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(data)
    probe = WeComAdapter({"corp_id": CORP, "state_file": str(tmp / "probe.json")}, {"secret": SECRET})
    limits = probe.capabilities.limits
    planned = run_plan(PlanInput(paths=paths, contacts=contacts, accounts=accounts, events=events, start=start,
                                 days=days, adapter_limits=limits, can_dissolve_groups=False))  # fmt: skip
    assert not planned.problems, planned.problems
    clock = Clock(planned.start)
    server = WeComServer(corp_id=CORP, secret=SECRET, agent_id=AGENT, clock=clock, auto_confirm=auto_confirm,
                         quota_limit=quota_limit).start()  # fmt: skip
    declare_world(server)
    synced = {"sync": sync} if sync else {}
    callbacks = {"callback_token": CALLBACK_TOKEN, "callback_aes_key": CALLBACK_KEY} if welcome else {}
    adapter = WeComAdapter({"corp_id": CORP, "agent_id": AGENT, "base_url": server.url, "timeout": timeout,
                            "media_dir": str(media), "groups": TEMPLATE_CHATS,
                            "state_file": str(tmp / "wecom-state.json"), **synced},
                           {"secret": SECRET, **callbacks}, clock=clock)  # fmt: skip
    adapter.open()
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.migrate()
    import_files(store, [accounts], "accounts", planned.clock)
    import_files(store, [contacts], "contacts", planned.clock)
    logged, problems = read_events(events, planned.clock)
    assert not problems
    adds = [e for e in logged if welcome and e.type == "friend_added"]
    store.append_events(sorted((e for e in logged if e not in adds), key=lambda e: (e.at, e.seq)), "file")
    if sync:
        seed_directory(server, store)
    if adds:
        route = adapter.callbacks(lambda events: store.append_events(list(events), "adapter"))[CALLBACK_PATH]
        for e in adds:
            server.remove_friend(e.contact)  # not a customer before they add the staff member
        faults = [*faults, *((e.at - planned.start, lambda srv, e=e: added(srv, route, e, clock)) for e in adds)]
    caps = adapter.capabilities
    decider = Decider(store, paths, shared_limits=caps.limits, can_dissolve_groups=caps.dissolve_groups,
                      sync_tags=caps.tags)  # fmt: skip
    decider.load(planned.start)
    dispatcher = Dispatcher(store, adapter, owner="bench", clock=clock, workers=workers, batch=10_000,
                            retry=RetryPolicy(max_attempts=12, backoff=2.0, backoff_cap=600.0))  # fmt: skip
    todo = sorted(faults, key=lambda f: f[0])
    end = planned.end
    try:
        while clock.t < end:
            due = decider.next_due()
            clock.t = min(end - 1 if due is None else max(due, clock.t), clock.t + tick, end - 1)
            while todo and planned.start + todo[0][0] <= clock.t:
                todo.pop(0)[1](server)
            if adapter.sync_due(clock.t):  # as the daemon's turn does
                sync_contacts(adapter, store, clock.t, "wecom")
            decider.step(int(clock.t))
            while dispatcher.run_once(clock.t).claimed:
                pass
            dispatcher.collect_receipts(clock.t)
            if clock.t >= end - 1:
                break
        for _ in range(int(settle_hours * 3600 / tick)):  # the last tasks are confirmed, receipts come in
            clock.t += tick
            while dispatcher.run_once(clock.t).claimed:  # failed rows whose retry time came
                pass
            dispatcher.collect_receipts(clock.t)
    finally:
        dispatcher.close()
    plan = json.loads(to_json(planned))
    return Run(server, store, adapter, plan, planned.start, end, clock, days, server.calls)


def per_10000(batch: int | None) -> Counter[str]:
    """API calls for 10,000 same-content dm touches of one account due at one instant."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        clock = Clock(1_796_000_000)
        with WeComServer(corp_id=CORP, secret=SECRET, clock=clock) as server:
            for i in range(10_000):
                server.add_customer(f"c{i:05d}", "a1")
            adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp / "s.json")},
                                   {"secret": SECRET}, clock=clock)  # fmt: skip
            adapter.open()
            store = Store(f"sqlite:///{tmp / 'store.db'}")
            store.migrate()
            at = int(clock.t)
            rows = [TouchRow(key=f"pb-1/活动通知/c{i:05d}/s1/1", version="pb-1", flow="活动通知", step="dm 通知",
                             channel="dm", due=at, state="pending", account="a1", contact=f"c{i:05d}", at=at,
                             content="通知", text="双12活动今晚开始，点开看看～", outcome="ok", next_attempt_at=at)
                    for i in range(10_000)]  # fmt: skip
            store.save_version({"version": "pb-1", "name": "wecom bench"})
            store.write(Journal(touches=rows))
            dispatcher = Dispatcher(store, adapter, owner="bench", clock=clock, workers=4, batch=batch)
            while dispatcher.run_once(at).claimed:
                pass
            dispatcher.close()
            assert len(store.touches(states=("sent",))) == 10_000
            adapter.close()
            store.close()
            return Counter(c.endpoint for c in server.calls)


def greeting_at_once(paths: list[str], tmp: Path) -> list[str]:
    """The examples with new_customer.pb's greeting as the journey's first step without a timing
    (what `check --adapter wecom` asks for a welcome message), copied into `tmp`."""
    out = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        if Path(path).name == "new_customer.pb":
            assert "after 5m: dm 欢迎语" in text
            text = text.replace("after 5m: dm 欢迎语", "dm 欢迎语")
        copy = tmp / "examples" / Path(path).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        out.append(str(copy))
    return out


def added(server: WeComServer, route: Any, event: Any, clock: Clock) -> None:
    """A customer adds a staff member: WeCom's add_external_contact callback with a WelcomeCode
    (and State, the channel), into the adapter's callback route as the intake would pass it."""
    account = str(event.data["account"])
    server.directory.customer(event.contact, str(event.data.get("name") or event.contact),
                              {account: Relation(createtime=int(clock.t), state=str(event.data.get("source") or ""))})  # fmt: skip
    code = server.add_external_contact(event.contact, account)
    fields = {"ToUserName": CORP, "FromUserName": "sys", "CreateTime": int(clock.t), "MsgType": "event",
              "Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": account,
              "ExternalUserID": event.contact, "State": str(event.data.get("source") or "")}  # fmt: skip
    if code:
        fields["WelcomeCode"] = code
    query, body = crypto.seal_message(CALLBACK_TOKEN, CALLBACK_KEY, CORP, event_xml(fields), timestamp=int(clock.t))
    assert route(HttpRequest("POST", CALLBACK_PATH, query, body.encode("utf-8"))).status == 200


def seed_directory(server: WeComServer, store: Store) -> None:
    """The server's directory as the store's contacts: each customer followed by their account
    since `added_at`, with their tags as corp tags (so a sync reads back what the files said)."""
    records, _ = store.load_contacts()
    tag_ids: dict[str, str] = {}
    with server._lock:
        for r in records:
            added = r.get("added_at")
            relation = Relation(createtime=int(added) if added is not None else int(server.clock()))
            server.directory.customer(r["id"], str(r.get("name") or r["id"]), {str(r["account"]): relation})
            for tag in sorted(r.get("tags") or ()):
                if tag not in tag_ids:
                    doc = server._add_corp_tag({}, {"group_name": "导入", "tag": [{"name": tag}]}, server.clock())
                    tag_ids[tag] = doc["tag_group"]["tag"][0]["id"]
                server._marks[(str(r["account"]), r["id"])].add(tag_ids[tag])


def first_sync(customers: int = 10_000, staff: int = 10, *, personal_tags: bool = False) -> tuple[Counter[str], int,
                                                                                                   float]:  # fmt: skip
    """API calls of a first full sync (endpoint → calls), the customers read, and the simulated
    seconds it took (waiting for the pace)."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        clock = Clock(1_796_000_000)
        with WeComServer(corp_id=CORP, secret=SECRET, clock=clock, strict=True) as server:
            members = [f"staff{i:02d}" for i in range(staff)]
            with server._lock:
                tags = [server._add_corp_tag({}, {"group_name": "客户等级", "tag": [{"name": name}]}, clock())
                        ["tag_group"]["tag"][0]["id"] for name in ("SVIP", "VIP", "普通", "水果", "服装")]  # fmt: skip
            for i in range(customers):
                cid = f"wm{i:06d}"
                follow = {members[i % staff]: Relation(remark=f"备注{i}", createtime=1_700_000_000 + i * 600,
                                                       state=f"qr{i % 7}", add_way=1 + i % 3,
                                                       personal_tags=["老客户"] if i % 5 == 0 else [])}  # fmt: skip
                if i % 10 == 0:
                    follow[members[(i + 1) % staff]] = Relation(createtime=1_710_000_000 + i)
                server.directory.customer(cid, f"客户{i}", follow)
                for userid in follow:
                    server._marks[(userid, cid)].update((tags[i % 5], tags[(i + 2) % 5]))
            adapter = WeComAdapter({"corp_id": CORP, "base_url": server.url, "state_file": str(tmp / "s.json"),
                                    "personal_tags": personal_tags}, {"secret": SECRET}, clock=clock)  # fmt: skip
            adapter.syncer.sleep = lambda seconds: setattr(clock, "t", clock.t + seconds)
            adapter.syncer.pacer.sleep = adapter.syncer.sleep
            adapter.open()
            start = clock.t
            store = Store(f"sqlite:///{tmp / 'store.db'}")
            store.migrate()
            result = import_synced(store, adapter.sync(known_contacts(store), clock.t, full=True), "wecom",
                                   int(clock.t))  # fmt: skip
            assert result.contacts.inserted == customers, result
            took = clock.t - start
            adapter.close()
            store.close()
            return Counter(c.endpoint for c in server.calls), result.customers, took


def by_endpoint(run: Run) -> Counter[str]:
    return Counter(c.endpoint for c in run.calls)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="simulated days for the example population (default 7)")
    args = parser.parse_args(argv)
    print("API calls per 10,000 same-content dm touches of one account (one instant):")
    for batch in (None, 500):
        counts = per_10000(batch)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        label = "default (one adapter batch)" if batch is None else f"[daemon] batch = {batch}"
        print(f"  {label:>27}: add_msg_template {counts['externalcontact/add_msg_template']}"
              f" (all calls {sum(counts.values())}: {detail})")  # fmt: skip
    print("\nA first contact sync (import --from wecom) of 10,000 customers across 10 staff members:")
    for personal in (False, True):
        counts, customers, took = first_sync(personal_tags=personal)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        label = "personal_tags = true" if personal else "default"
        print(f"  {label:>20}: {sum(counts.values())} calls for {customers} customers, "
              f"{took / 60:.1f} simulated minutes of pacing ({detail})")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        run = simulate(Path(folder), days=args.days, sync="6h", welcome=True)
        try:
            counts = by_endpoint(run)
            ledger = Counter(r.channel for r in run.store.touches(states=("sent",)))
            receipts = Counter(r.receipt for r in run.store.touches(states=("sent",)) if r.receipt)
        finally:
            run.close()
    total = sum(counts.values())
    print(f"\nExample population ({len(EXAMPLES)} playbooks, playbooks/contacts.csv, sync = \"6h\", friend_added "
          f"as callbacks with WelcomeCodes, the greeting at once), {args.days} simulated days:")  # fmt: skip
    print(f"  touches sent: {dict(sorted(ledger.items()))}; receipts: {dict(sorted(receipts.items()))}")
    print(f"  API calls: {total} in all, {total / args.days:.1f} a day")
    width = max(len(k) for k in counts)
    for endpoint, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {endpoint:<{width}}  {n:>6}  {n / args.days:>8.1f}/day")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
