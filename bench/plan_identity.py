"""Plan outputs' fingerprints: one SHA-256 per bundled example combination and a 100k population.

    .venv/bin/python bench/plan_identity.py                  # every case, hashes to stdout
    .venv/bin/python bench/plan_identity.py --quick          # without the 100k population
    .venv/bin/python bench/plan_identity.py --compare FILE   # exit 1 if a hash differs from FILE's

For a change that must not change behaviour (a refactoring): run it before the change with
`--save bench/out/identity-before.json`, and after with `--compare` on that file. Every case
runs `python -m playbook plan …` from this checkout as a separate process and hashes what it
writes: the JSON contract of every example alone and of the README's combinations (14 and 30
days, WeCom's limits, a forecast, two worker processes), the tables in English and in Chinese,
one contact's timeline, the HTML page (the `html` extra), and the JSON and table of a 100k-contact population from
bench/population.py (planned in shards, as a large file is).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.population import DEFAULT_SEED, ensure  # noqa: E402

EXAMPLES = (
    "ab_first_order", "double12_calendar", "live_flash_group", "moments_and_service",
    "new_customer", "presale_group", "vip_invite", "win_back",
)
README_SET = ("playbooks/new_customer.pb", "playbooks/moments_and_service.pb", "playbooks/presale_group.pb")
DATA = ("--contacts", "playbooks/contacts.csv", "--accounts", "playbooks/accounts.csv",
        "--events", "playbooks/events.jsonl")
START = "2026-12-01 00:00"
POPULATION = 100_000


def cases(quick: bool) -> list[tuple[str, list[str]]]:
    """(name, arguments after `playbook`) of every case; the output goes to --out."""
    days30 = ["--start", START, "--days", "30"]
    out: list[tuple[str, list[str]]] = []
    for name in EXAMPLES:
        out.append((f"{name}.json", ["plan", f"playbooks/{name}.pb", *DATA, *days30, "--format", "json"]))
    readme = ["plan", *README_SET, *DATA]
    out += [
        ("readme-14d.json", [*readme, "--start", START, "--days", "14", "--format", "json"]),
        ("readme-30d.json", [*readme, *days30, "--format", "json"]),
        ("readme-30d-wecom.json", [*readme, *days30, "--adapter", "wecom", "--format", "json"]),
        ("readme-30d-simulate.json", [*readme, *days30, "--simulate", "reply=0.3,purchase=0.05", "--seed", "1",
                                      "--format", "json"]),
        ("readme-30d-workers2.json", [*readme, *days30, "--workers", "2", "--format", "json"]),
        ("readme-30d.txt", [*readme, *days30]),
        ("readme-30d-wecom.txt", [*readme, *days30, "--adapter", "wecom"]),
        ("readme-30d-zh.txt", ["--lang", "zh", *readme, *days30, "--adapter", "wecom"]),
        ("readme-30d-account-day.txt", [*readme, *days30, "--by", "account-day"]),
        ("readme-30d-c43.txt", [*readme, *days30, "--contact", "c43"]),
        ("readme-30d-c43-zh.txt", ["--lang", "zh", *readme, *days30, "--contact", "c43"]),
        ("readme-30d-wecom.html", [*readme, *days30, "--adapter", "wecom", "--format", "html"]),
        ("readme-30d-wecom-zh.html", ["--lang", "zh", *readme, *days30, "--adapter", "wecom", "--format", "html"]),
    ]
    for name in EXAMPLES:
        out.append((f"{name}-zh.txt", ["--lang", "zh", "plan", f"playbooks/{name}.pb", *DATA, *days30,
                                       "--adapter", "wecom"]))
    if not quick:
        pop, _ = ensure(POPULATION, DEFAULT_SEED)
        data = ["--contacts", str(pop / "contacts.csv"), "--accounts", str(pop / "accounts.csv"),
                "--events", str(pop / "events.jsonl")]
        out += [
            ("population-100k.json", ["plan", *README_SET, *data, *days30, "--format", "json"]),
            ("population-100k-wecom.txt", ["plan", *README_SET, *data, *days30, "--adapter", "wecom"]),
        ]
    return out


def run_case(args: list[str], out: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    env.pop("PLAYBOOK_LANG", None)
    command = [sys.executable, "-m", "playbook", *args, "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 2) or not out.exists():
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="without the 100k population")
    parser.add_argument("--save", type=Path, help="write the hashes to this JSON file")
    parser.add_argument("--compare", type=Path, help="compare with the hashes in this JSON file")
    options = parser.parse_args(argv)
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in cases(options.quick):
            began = time.perf_counter()
            hashes[name] = run_case(args, Path(tmp) / name)
            print(f"{hashes[name]}  {name}  ({time.perf_counter() - began:.1f} s)", flush=True)
    if options.save:
        options.save.parent.mkdir(parents=True, exist_ok=True)
        options.save.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    if options.compare:
        before = json.loads(options.compare.read_text())
        differ = sorted(name for name in hashes if name in before and before[name] != hashes[name])
        missing = sorted(set(before) - set(hashes))
        for name in differ:
            print(f"DIFFERS  {name}")
        print(f"{len(hashes) - len(differ)} of {len(hashes)} identical" + (f"; not run: {missing}" if missing else ""))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
