"""Editor latency: how long after an edit `playbook lsp` publishes diagnostics, on the
generated 5,000-line playbook (bench/generate.py), and compile ÷ PyYAML's CSafeLoader on
the same content (the issue-16 speed goals: ≤ 150 ms after an edit; ratio ≤ 1.0).

    .venv/bin/python bench/lsp_bench.py             # 20 edits, 5 compile rounds
    .venv/bin/python bench/lsp_bench.py --edits 20 --rounds 10

The server runs as editors start it (`python -m playbook lsp`, stdio). The bench is its
client: it opens the file, then alternately breaks one segment reference (a typo) and fixes
it, sending the whole text each time as VS Code does for a small file; latency = from
writing didChange to reading the publishDiagnostics that answers it (whose diagnostics
must be the expected ones: one error after the typo, none after the fix). Typos go to a
segment and to a journey in turn. Medians, 90th percentiles, extremes, in ms. PLAYBOOK_PARSER=lark
measures Lark's own parser loop instead of lark-cython's. Nothing is written but a temporary copy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402


class Client:
    """A minimal LSP client over a child's stdio (JSON-RPC with Content-Length headers)."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        self.next_id = 0

    def send(self, method: str, params: Any, request: bool = False) -> int | None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = msg["id"] = self.next_id
        body = json.dumps(msg, ensure_ascii=False).encode()
        stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()
        return ident

    def read(self) -> dict[str, Any]:
        stdout: IO[bytes] = self.proc.stdout  # type: ignore[assignment]
        length = 0
        while True:
            line = stdout.readline()
            if not line:
                raise RuntimeError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(stdout.read(length))

    def wait(self, method: str | None = None, ident: int | None = None) -> dict[str, Any]:
        while True:
            msg = self.read()
            if (method and msg.get("method") == method) or (ident is not None and msg.get("id") == ident):
                return msg


def edit_latency(text: str, edits: int) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp()) / "large.pb"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client = Client([sys.executable, "-m", "playbook", "lsp"])
    started = time.perf_counter()
    client.wait(ident=client.send("initialize", {"processId": None, "rootUri": None, "capabilities": {}}, True))
    client.send("initialized", {})
    client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "playbook", "version": 1, "text": text}})
    first = client.wait("textDocument/publishDiagnostics")
    opened = time.perf_counter() - started
    assert not [d for d in first["params"]["diagnostics"] if d["severity"] == 1], "the generated playbook has errors"
    # Typos in the first segment reference (`in NAME` → `in NAMEx`, in a segment) and in the
    # first content reference (`dm NAME` → `dm NAMEx`, in a journey), each followed by its fix.
    broken = [_typo(text, " in "), _typo(text, "\n  dm ")]
    samples: list[float] = []
    for i in range(edits):
        new = broken[(i // 2) % 2] if i % 2 == 0 else text
        t0 = time.perf_counter()
        client.send(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [{"text": new}]},
        )
        got = client.wait("textDocument/publishDiagnostics")
        samples.append(time.perf_counter() - t0)
        errors = [d for d in got["params"]["diagnostics"] if d["severity"] == 1]
        assert len(errors) == (1 if i % 2 == 0 else 0), errors
    client.wait(ident=client.send("shutdown", None, True))
    client.send("exit", None)
    client.proc.wait(timeout=10)
    return {"start_and_open_s": opened, "samples_s": samples}


def _typo(text: str, before: str) -> str:
    """TEXT with an x added to the name after the first BEFORE."""
    end = text.index(before) + len(before)
    while text[end].isalnum() or text[end] == "_":
        end += 1
    return text[:end] + "x" + text[end:]


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def compile_ratio(text: str, yaml_text: str, rounds: int) -> dict[str, float]:
    import yaml

    from playbook.compiler import compile_text

    # Interleaved rounds, so that what else runs on the machine weighs on both alike; the
    # ratio is also given in CPU time (this process's), which other processes do not inflate.
    wall: dict[str, list[float]] = {"compile": [], "yaml": []}
    cpu: dict[str, list[float]] = {"compile": [], "yaml": []}
    for _ in range(rounds):
        for name, fn in (("compile", lambda: compile_text(text, "large.pb")),
                         ("yaml", lambda: yaml.load(yaml_text, Loader=yaml.CSafeLoader))):  # fmt: skip
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {
        "compile_s": statistics.median(wall["compile"]),
        "yaml_c_s": statistics.median(wall["yaml"]),
        "compile_cpu_s": statistics.median(cpu["compile"]),
        "yaml_c_cpu_s": statistics.median(cpu["yaml"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    g = generate()
    lat = edit_latency(g.playbook, args.edits)
    ratio = compile_ratio(g.playbook, g.yaml, args.rounds)
    ms = [s * 1000 for s in lat["samples_s"]]
    from playbook.syntax.parser import accelerated_plugins

    backend = "lark-cython" if accelerated_plugins() else "Lark's own (pure Python)"
    segment, journey = [ms[i] for i in range(0, len(ms), 4)], [ms[i] for i in range(2, len(ms), 4)]
    lines = [
        f"playbook: {g.lines:,} lines (bench/generate.py); parser loop: {backend}",
        f"server start + open → first diagnostics: {lat['start_and_open_s'] * 1000:,.0f} ms",
        f"edit → diagnostics ({len(ms)} edits): median {statistics.median(ms):,.0f} ms, "
        f"p90 {p90(ms):,.0f} ms, min {min(ms):,.0f} ms, max {max(ms):,.0f} ms (goal ≤ 150 ms)",
        f"  typo in a segment (1 error): median {statistics.median(segment):,.0f} ms; "
        f"typo in a journey (1 error): median {statistics.median(journey or segment):,.0f} ms; "
        f"fixes (compiles, IR built): median {statistics.median(ms[1::2]):,.0f} ms",
        f"compile (in process): {ratio['compile_s'] * 1000:,.0f} ms; "
        f"yaml CSafeLoader: {ratio['yaml_c_s'] * 1000:,.0f} ms; "
        f"compile ÷ CSafeLoader = {ratio['compile_s'] / ratio['yaml_c_s']:.2f} (goal ≤ 1.0); "
        f"in CPU time {ratio['compile_cpu_s'] / ratio['yaml_c_cpu_s']:.2f}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
