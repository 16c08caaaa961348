"""The dispatch benchmark (bench/dispatch_bench.py) counts right: a tiny run in this process
sends every touch exactly once through the real Dispatcher and through APScheduler, and the
ratio and verdicts come from those counts. No timing targets here: the benchmark measures."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

# bench/ is not part of the installed package: load the benchmark from its file.
_spec = importlib.util.spec_from_file_location(
    "bench_dispatch", Path(__file__).resolve().parents[1] / "bench" / "dispatch_bench.py"
)
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # APScheduler finds the job function by its module's name
_spec.loader.exec_module(bench)


def test_touches_are_seeded_unique_and_mixed() -> None:
    rows = bench.make_touches(2000, window=10, seed=7)
    assert rows == bench.make_touches(2000, window=10, seed=7)
    assert len({r.key for r in rows}) == len(rows)
    channels = Counter(r.channel for r in rows)
    assert set(channels) == {"dm", "task", "moment", "group"} and channels["task"] > channels["dm"]
    assert len({r.account for r in rows}) > 10
    assert all(bench.BASE <= r.at < bench.BASE + 10 and r.next_attempt_at == r.at for r in rows)
    assert all(r.state == "pending" and (r.due == r.at) == (r.outcome == "ok") for r in rows)
    assert all(r.audience and r.contact is None for r in rows if r.channel == "moment")


def test_tiny_run_sends_each_touch_once_and_computes_the_ratio(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["--touches", "500", "--naive-touches", "50", "--repeat", "1", "--window", "1", "--lead", "0.3",
            "--in-process", "--out", str(tmp_path)]  # fmt: skip
    assert bench.main(argv) == 0
    result = json.loads((tmp_path / "dispatch-latest.json").read_text(encoding="utf-8"))
    runs = result["runs"]
    assert runs["setup"][0]["touches"] == 500
    for kind in ("ours", "ours_lateness"):
        (run,) = runs[kind]
        assert run["touches"] == run["sent"] == run["adapter_deliveries"] == run["adapter_distinct"] == 500
        assert run["states"] == {"sent": 500} and run["twice"] == 0
        assert run["calls"] >= 1 and run["lateness"]["p99_s"] is not None
    assert runs["ours"][0]["lateness"]["p50_s"] > 0  # all due before the clock: late by construction
    (floor,) = runs["floor"]  # the same SQL through sqlite3 alone
    assert floor["sent"] == 500 and floor["left"] == 0 and floor["per_s"] > 0
    for kind in ("naive", "naive_lateness"):
        (run,) = runs[kind]
        assert run["touches"] == run["executed"] == run["adapter_deliveries"] == 50 and run["twice"] == 0
    assert runs["naive_lateness"][0]["adds_done_before_window"] is True
    summary = result["summary"]
    figures = summary["figures"]
    assert summary["counts_ok"] is True
    assert figures["ours_per_s"] == runs["ours"][0]["per_s"] > 0
    assert figures["naive_per_s"] == runs["naive"][0]["per_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["ours_per_s"] / figures["naive_per_s"])
    assert set(summary["verdicts"]) == {"ratio", "rate", "p99"}
    assert summary["verdicts"]["ratio"]["pass"] == (figures["ratio"] >= bench.TARGET_RATIO)
    out = capsys.readouterr().out
    assert "ours / naive" in out and out.count("PASS") + out.count("MISS") == 3
    assert "every touch sent exactly once in every run: yes" in out


def test_a_touch_sent_twice_or_left_unsent_is_reported() -> None:
    ok = {"touches": 3, "sent": 3, "adapter_deliveries": 3, "twice": 0, "states": {"sent": 3}, "per_s": 10.0,
          "lateness": {"p50_s": 0.1, "p99_s": 0.2}, "peak_rss_mib": 1.0}  # fmt: skip
    naive = {"touches": 2, "executed": 2, "adapter_deliveries": 2, "twice": 0, "per_s": 1.0, "add_s": 1.0,
             "lateness": {"p50_s": 0.1, "p99_s": 0.2}, "peak_rss_mib": 1.0}  # fmt: skip
    assert bench.summarize({"ours": [ok], "naive": [naive]})["counts_ok"] is True
    assert bench.summarize({"ours": [ok], "naive": [naive]})["figures"]["ratio"] == 10.0
    twice = {**ok, "adapter_deliveries": 4, "twice": 1}
    assert bench.summarize({"ours": [twice], "naive": [naive]})["counts_ok"] is False
    unsent = {**ok, "sent": 2, "states": {"sent": 2, "pending": 1}}
    assert bench.summarize({"ours": [unsent], "naive": [naive]})["counts_ok"] is False
    assert bench.summarize({"ours": [ok], "naive": [{**naive, "executed": 1}]})["counts_ok"] is False
