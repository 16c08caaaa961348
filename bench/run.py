"""The language-core benchmark: one command, one process, one table.

    .venv/bin/python bench/run.py              # the full run (about a minute)
    .venv/bin/python bench/run.py --quick      # a smoke run: fewer repetitions
    .venv/bin/python bench/run.py --profile    # also: where the compile and `playbook check` time goes

Figures (medians; see bench/README.md):
- warm compile of a generated ≈5,000-line playbook (`compile_text`: parse + checks + IR), lines/s;
- parse only (`parse`);
- `yaml.safe_load` (PyYAML's pure-Python SafeLoader) and `yaml.CSafeLoader` (libyaml) on a
  YAML rendering of the same definitions, and the ratio ours / theirs;
- the whole-process wall time of `playbook check playbooks/new_customer.pb`.
Results are also written as JSON to bench/out/ (latest.json and a timestamped copy).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.generate import DEFAULT_LINES, DEFAULT_SEED, generate  # noqa: E402
from bench.machine import describe  # noqa: E402
from playbook.compiler import compile_text  # noqa: E402
from playbook.syntax.parser import parse  # noqa: E402

OUT = ROOT / "bench" / "out"
EXAMPLE = "playbooks/new_customer.pb"

# Targets (the wording): no slower than yaml.safe_load on the same content, aim for
# the C loader; ≥ 25k playbook lines/s for parse + checks + IR; `playbook check` ≤ 0.2 s.
TARGET_LINES_PER_S = 25_000
TARGET_CHECK_S = 0.2  # issue 16


# ---- measuring -----------------------------------------------------------------------------------


def timed(
    fns: dict[str, Callable[[], Any]], repeat: int, every: dict[str, int] | None = None
) -> dict[str, list[float]]:
    """Wall times of each function, `repeat` rounds after one warm-up round. The functions
    take turns within a round, so a burst of load from elsewhere on the machine hits all of
    them alike; `every` runs a slow one only every n-th round. A full collection precedes
    each call; the garbage collector stays on during it (it is part of what a user waits for)."""
    every = every or {}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(repeat + 1):
        for name, fn in fns.items():
            if i and (i - 1) % every.get(name, 1):
                continue
            gc.collect()
            t0 = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - t0)
    return times


def playbook_exe() -> Path:
    """The installed `playbook` entry point next to this interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("playbook", "playbook.exe"):
        if (bindir / name).exists():
            return bindir / name
    raise SystemExit(f"no `playbook` entry point in {bindir}: install the project (pip install -e .)")


def process_times(
    cmd: list[str], repeat: int, warmup: int = 1, check: bool = True, cpu: list[float] | None = None
) -> list[float]:
    """Wall times of REPEAT runs of CMD after WARMUP; CPU: gets each run's user + system time
    (what the process itself spent, which other work on the machine does not inflate). The
    runs may write bytecode, as an installed playbook has it (PYTHONDONTWRITEBYTECODE unset)."""
    import resource

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for i in range(warmup + repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if check and done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        if i >= warmup:
            times.append(elapsed)
            if cpu is not None:
                cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times


def machine() -> dict[str, Any]:
    """The machine (bench/machine.py) plus the parser's and YAML's versions."""

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        **describe(),
        "packages": {d: version(d) for d in ("lark", "pydantic", "pydantic_core", "PyYAML")},
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
    }


# ---- the figures ----------------------------------------------------------------------------------


def figure(value: float, unit: str, target: str | None = None, ok: bool | None = None, **extra: Any) -> dict:
    if "samples" in extra:
        extra["min"] = min(extra["samples"])
    return {"value": value, "unit": unit, "target": target, "pass": ok, **extra}


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeat, check_repeat = (4, 3) if args.quick else (args.repeat, args.check_repeat)
    g = generate(args.lines, args.seed)
    text, yaml_text = g.playbook, g.yaml
    lines = g.lines

    first = compile_text(text, "large.pb")  # also builds the parser: not part of the warm figure
    if first.errors:
        raise SystemExit("the generated playbook has errors:\n" + "\n".join(d.message for d in first.errors[:10]))
    if yaml.safe_load(yaml_text) != g.model:
        raise SystemExit("the YAML rendering does not load back to the model")

    figures: dict[str, dict] = {}
    figures["playbook_size"] = figure(lines, "lines", bytes=len(text.encode()), declarations=g.counts())
    figures["yaml_size"] = figure(g.yaml_lines, "lines", bytes=len(yaml_text.encode()))

    fns: dict[str, Callable[[], Any]] = {
        "parse": lambda: parse(text, "large.pb"),
        "compile": lambda: compile_text(text, "large.pb"),
        "yaml_py": lambda: yaml.load(yaml_text, Loader=yaml.SafeLoader),
    }
    if hasattr(yaml, "CSafeLoader"):
        fns["yaml_c"] = lambda: yaml.load(yaml_text, Loader=yaml.CSafeLoader)
    t = timed(fns, repeat, every={"yaml_py": 2})
    c = statistics.median(t["compile"])
    figures["compile"] = figure(
        c,
        "s",
        f">= {TARGET_LINES_PER_S:,} lines/s",
        lines / c >= TARGET_LINES_PER_S,
        lines_per_s=lines / c,
        samples=t["compile"],
    )
    p = statistics.median(t["parse"])
    figures["parse"] = figure(p, "s", lines_per_s=lines / p, samples=t["parse"])
    rest = [b - a for a, b in zip(t["parse"], t["compile"], strict=True)]
    figures["checks_and_ir"] = figure(
        statistics.median(rest), "s", note="compile minus parse, median over rounds", samples=rest
    )
    y = statistics.median(t["yaml_py"])
    figures["yaml_safe_load"] = figure(y, "s", "ours / yaml <= 1.0", c / y <= 1.0, ratio=c / y, samples=t["yaml_py"])
    if "yaml_c" in t:
        yc = statistics.median(t["yaml_c"])
        figures["yaml_csafe_load"] = figure(
            yc, "s", "ours / yaml-C <= 1.0 (aim)", c / yc <= 1.0, ratio=c / yc, samples=t["yaml_c"]
        )

    exe = str(playbook_exe())
    check_cpu: list[float] = []
    check_s = process_times([exe, "check", EXAMPLE], check_repeat, cpu=check_cpu)
    k = statistics.median(check_s)
    figures["check_process"] = figure(
        k, "s", f"<= {TARGET_CHECK_S} s", k <= TARGET_CHECK_S, command=f"playbook check {EXAMPLE}", samples=check_s
    )
    figures["check_process_cpu"] = figure(statistics.median(check_cpu), "s", note="user + system", samples=check_cpu)
    bare_s = process_times([sys.executable, "-c", "pass"], check_repeat)
    figures["python_start"] = figure(statistics.median(bare_s), "s", note="python -c pass", samples=bare_s)

    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "lines_target": args.lines,
            "seed": args.seed,
            "repeat": repeat,
            "check_repeat": check_repeat,
            "quick": args.quick,
        },
        "figures": figures,
    }
    if args.profile:
        result["profile"] = {
            "compile": profile_compile(text),
            "check_process": profile_check(),
        }
    return result


# ---- where the time goes ----------------------------------------------------------------------------

_CATEGORIES = [
    ("/lark/lexer.py", "lexing (lark lexer, tokens)"),
    ("/lark/parsers/", "LALR parsing (lark parser loop)"),
    ("/lark/grammar.py", "LALR parsing (lark parser loop)"),
    ("/lark/parse_tree_builder.py", "parser callbacks (lark glue: v_args, tree builder)"),
    ("/lark/visitors.py", "parser callbacks (lark glue: v_args, tree builder)"),
    ("/lark/", "lark (other)"),
    ("playbook/syntax/parser.py", "AST construction (our transformer callbacks)"),
    ("playbook/syntax/ast.py", "AST construction (AST node classes)"),
    ("<string>", "dataclass __init__ (AST nodes, mostly)"),
    ("playbook/syntax/source.py", "source normalisation"),
    ("playbook/compiler/ir.py", "IR models (our pydantic classes)"),
    ("playbook/compiler/", "compiler (names, checks, lowering)"),
    ("playbook/diagnostics.py", "diagnostics"),
    ("/pydantic", "pydantic model construction"),
    ("/json/", "canonical JSON of the IR (version hash)"),
]


def _category(filename: str) -> str | None:
    f = filename.replace("\\", "/")
    if f == "~":
        return None  # a builtin: charged to its callers
    for needle, name in _CATEGORIES:
        if needle in f:
            return name
    m = re.search(r"/site-packages/(\w+)", f) or re.search(r"/python3\.\d+/(\w+)", f)
    return f"other: {m.group(1)}" if m else "other"


def _builtin_category(name: str) -> str | None:
    return "pydantic model construction" if "pydantic" in name else None


def profile_compile(text: str, runs: int = 3) -> dict[str, Any]:
    """cProfile of warm compiles, own time grouped by stage; a builtin's time (re, str,
    pydantic-core's validator) goes to the stage of the function that called it."""
    compile_text(text, "large.pb")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        compile_text(text, "large.pb")
    prof.disable()
    stats = pstats.Stats(prof)
    raw: dict = stats.stats  # type: ignore[attr-defined]
    by: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tt, _ct, callers) in raw.items():
        cat = _category(filename) or _builtin_category(name)
        if cat is not None:
            by[cat] = by.get(cat, 0.0) + tt
            continue
        charged = 0.0
        for (cfile, _cline, _cname), edge in callers.items():
            caller_cat = _category(cfile) or "builtins"
            by[caller_cat] = by.get(caller_cat, 0.0) + edge[2]
            charged += edge[2]
        if tt - charged > 1e-9:
            by["builtins"] = by.get("builtins", 0.0) + tt - charged
    total = sum(by.values())
    top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    return {
        "runs": runs,
        "total_s_per_run": total / runs,
        "by_stage": {
            k: {"s_per_run": v / runs, "share": v / total} for k, v in sorted(by.items(), key=lambda kv: -kv[1])
        },
        "top_functions": [
            {"function": f"{Path(fn).name}:{line}({name})", "tottime_per_run": tt / runs, "calls_per_run": nc // runs}
            for (fn, line, name), (_cc, nc, tt, _ct, _callers) in top
        ],
    }


_PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
import playbook.cli.main, playbook.cli.check
t1 = time.perf_counter()
import playbook.compiler
t2 = time.perf_counter()
from playbook.compiler import compile_path
r = compile_path(sys.argv[1])
t3 = time.perf_counter()
compile_path(sys.argv[1])
t4 = time.perf_counter()
print(json.dumps({"import_cli": t1 - t0, "import_compiler": t2 - t1, "first_compile": t3 - t2, "warm_compile": t4 - t3}))
"""


def profile_check(runs: int = 5) -> dict[str, Any]:
    """The `playbook check` process in phases (imports, first compile with the parser build,
    a warm compile), and the heaviest imports from -X importtime."""
    samples: list[dict[str, float]] = []
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", _PHASES, EXAMPLE], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        samples.append(json.loads(out))
    phases = {k: statistics.median(s[k] for s in samples[1:]) for k in samples[0]}
    phases["parser_build_and_first_run_extra"] = max(phases["first_compile"] - phases["warm_compile"], 0.0)
    code = f"import sys; sys.argv = ['playbook', 'check', {EXAMPLE!r}]; from playbook.cli.main import main; main()"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True
    ).stderr
    imports: list[dict[str, Any]] = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if m:
            depth = (len(m.group(3)) - 1) // 2
            imports.append(
                {
                    "module": m.group(4),
                    "depth": depth,
                    "self_s": int(m.group(1)) / 1e6,
                    "cumulative_s": int(m.group(2)) / 1e6,
                }
            )
    return {
        "phases_s": phases,
        "imports_total_s": sum(i["cumulative_s"] for i in imports if i["depth"] == 0),
        # the import tree (in import order, children before parents) down to 3 levels, 5 ms or more
        "imports": [i for i in imports if i["depth"] <= 2 and i["cumulative_s"] >= 0.005],
    }


# ---- output --------------------------------------------------------------------------------------


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def report(result: dict[str, Any]) -> str:
    f = result["figures"]
    m = result["machine"]
    rows: list[tuple[str, str, str, str]] = []
    size = f["playbook_size"]
    decl = ", ".join(f"{n} {k}" for k, n in size["declarations"].items())
    rows.append(("playbook (generated)", f"{size['value']:,} lines, {size['bytes'] / 1024:,.0f} KiB", "", ""))
    rows.append(
        (
            "YAML rendering, same definitions",
            f"{f['yaml_size']['value']:,} lines, {f['yaml_size']['bytes'] / 1024:,.0f} KiB",
            "",
            "",
        )
    )
    c = f["compile"]
    rows.append(
        (
            "compile (parse + checks + IR), warm",
            f"{c['value'] * 1000:,.1f} ms = {c['lines_per_s']:,.0f} lines/s",
            c["target"],
            _verdict(c["pass"]),
        )
    )
    p = f["parse"]
    rows.append(("  parse only", f"{p['value'] * 1000:,.1f} ms = {p['lines_per_s']:,.0f} lines/s", "", ""))
    rest = f["checks_and_ir"]["value"]
    rows.append(("  checks + IR (the rest)", f"{rest * 1000:,.1f} ms = {size['value'] / rest:,.0f} lines/s", "", ""))
    y = f["yaml_safe_load"]
    rows.append(
        (
            "yaml.safe_load (pure Python)",
            f"{y['value'] * 1000:,.1f} ms; ours/yaml = {y['ratio']:.2f}",
            y["target"],
            _verdict(y["pass"]),
        )
    )
    if "yaml_csafe_load" in f:
        yc = f["yaml_csafe_load"]
        rows.append(
            (
                "yaml CSafeLoader (libyaml)",
                f"{yc['value'] * 1000:,.1f} ms; ours/yaml = {yc['ratio']:.2f}",
                yc["target"],
                _verdict(yc["pass"]),
            )
        )
    k = f["check_process"]
    rows.append((k["command"] + " (process)", f"{k['value'] * 1000:,.0f} ms", k["target"], _verdict(k["pass"])))
    rows.append(("  its CPU time (user + system)", f"{f['check_process_cpu']['value'] * 1000:,.0f} ms", "", ""))
    rows.append(("  python -c pass (interpreter start)", f"{f['python_start']['value'] * 1000:,.0f} ms", "", ""))
    rows = [(a, b, c, d, e) for (a, b, c, d), e in zip(rows, _mins(f), strict=True)]
    rows = [(a, b, e, c, d) for a, b, c, d, e in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    head = ("figure", "median", "min", "target", "")
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['implementation']} {m['python']}, "
        f"{m['os']}; load average {', '.join(f'{x:.2f}' for x in m['load_average'] or [])}; lark {m['packages']['lark']}, pydantic {m['packages']['pydantic']}, "
        f"PyYAML {m['packages']['PyYAML']} (libyaml: {m['libyaml']}); commit {m['git_commit']}"
        + (" + local changes" if m["git_dirty"] else ""),
        "config: {lines_target}-line target, seed {seed}, {repeat} timed runs in process, {check_repeat} of the "
        "check process{q}".format(**result["config"], q=" (--quick)" if result["config"]["quick"] else ""),
        f"playbook: {decl}",
        "",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if "profile" in result:
        lines += ["", *profile_report(result["profile"])]
    return "\n".join(lines)


def _mins(f: dict[str, Any]) -> list[str]:
    """The min column, row by row (the same rows as the table)."""

    def ms(key: str) -> str:
        return f"{f[key]['min'] * 1000:,.1f} ms" if key in f else ""

    keys = ["", "", "compile", "parse", "", "yaml_safe_load"]
    keys += ["yaml_csafe_load"] if "yaml_csafe_load" in f else []
    keys += ["check_process", "check_process_cpu", "python_start"]
    return [ms(k) if k else "" for k in keys]


def profile_report(prof: dict[str, Any]) -> list[str]:
    pc = prof["compile"]
    out = [
        f"where the compile time goes (cProfile, {pc['runs']} warm runs; "
        f"{pc['total_s_per_run'] * 1000:,.0f} ms per run under the profiler):"
    ]
    for name, v in pc["by_stage"].items():
        out.append(f"  {v['share'] * 100:5.1f}%  {v['s_per_run'] * 1000:7.1f} ms  {name}")
    out.append("  heaviest functions (own time per run):")
    for t in pc["top_functions"][:10]:
        out.append(f"    {t['tottime_per_run'] * 1000:7.1f} ms  {t['calls_per_run']:>8,} calls  {t['function']}")
    ck = prof["check_process"]
    ph = ck["phases_s"]
    out.append("where the `playbook check` process time goes (medians, in-process clocks):")
    out.append(f"  import the CLI (click, rich…):  {ph['import_cli'] * 1000:6.0f} ms")
    out.append(f"  import the compiler:           {ph['import_compiler'] * 1000:6.0f} ms")
    out.append(
        f"  first compile (parser build):  {ph['first_compile'] * 1000:6.0f} ms"
        f"  (a second compile: {ph['warm_compile'] * 1000:.1f} ms)"
    )
    out.append(
        f"  imports of ≥ 5 ms (-X importtime, one run, which inflates them; {ck['imports_total_s'] * 1000:.0f} ms"
        " in all; cumulative / own; a module's imports are listed above it):"
    )
    for i in ck["imports"]:
        out.append(
            f"    {i['cumulative_s'] * 1000:6.1f} / {i['self_s'] * 1000:5.1f} ms  {'  ' * i['depth']}{i['module']}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 4 rounds in process, 3 check processes")
    ap.add_argument("--profile", action="store_true", help="also show where the time goes")
    ap.add_argument("--lines", type=int, default=DEFAULT_LINES, help="size of the generated playbook")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--repeat", type=int, default=20, help="timed rounds in process (yaml.safe_load: every other)")
    ap.add_argument("--check-repeat", type=int, default=7, help="timed runs of the `playbook check` process")
    args = ap.parse_args(argv)
    result = run(args)
    print(report(result))
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    body = json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (OUT / "latest.json").write_text(body, "utf-8")
    (OUT / f"bench-{stamp}{'-quick' if args.quick else ''}.json").write_text(body, "utf-8")
    print(f"\nwritten: {(OUT / 'latest.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
