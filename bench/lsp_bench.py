"""Editor latency: how long after an edit `playbook lsp` publishes diagnostics, on the
generated 5,000-line playbook (bench/generate.py), and compile ÷ PyYAML's CSafeLoader on
the same content (the issue-16 speed goals: ≤ 150 ms after an edit; ratio ≤ 1.0).

    .venv/bin/python bench/lsp_bench.py             # 10 edits, 5 compile rounds
    .venv/bin/python bench/lsp_bench.py --edits 20 --rounds 10

The server runs as editors start it (`python -m playbook lsp`, stdio). The bench is its
client: it opens the file, then alternately breaks one segment reference (a typo) and fixes
it, sending the whole text each time as VS Code does for a small file; latency = from
writing didChange to reading the publishDiagnostics that answers it (whose diagnostics
must be the expected ones: one error after the typo, none after the fix). Medians and
minimums, in ms. Nothing is written.
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
    # A typo in the first segment reference: `in NAME` → `in NAMEx`.
    at = text.index(" in ") + 4
    end = at
    while text[end].isalnum() or text[end] == "_":
        end += 1
    broken = text[:end] + "x" + text[end:]
    samples: list[float] = []
    for i in range(edits):
        new = broken if i % 2 == 0 else text
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


def compile_ratio(text: str, yaml_text: str, rounds: int) -> dict[str, float]:
    import yaml

    from playbook.compiler import compile_text

    def best(fn: Any) -> list[float]:
        out = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    ours = best(lambda: compile_text(text, "large.pb"))
    theirs = best(lambda: yaml.load(yaml_text, Loader=yaml.CSafeLoader))
    return {"compile_s": statistics.median(ours), "yaml_c_s": statistics.median(theirs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    g = generate()
    lat = edit_latency(g.playbook, args.edits)
    ratio = compile_ratio(g.playbook, g.yaml, args.rounds)
    ms = [s * 1000 for s in lat["samples_s"]]
    lines = [
        f"playbook: {g.lines:,} lines (bench/generate.py)",
        f"server start + open → first diagnostics: {lat['start_and_open_s'] * 1000:,.0f} ms",
        f"edit → diagnostics ({len(ms)} edits): median {statistics.median(ms):,.0f} ms, "
        f"min {min(ms):,.0f} ms, max {max(ms):,.0f} ms (goal ≤ 150 ms)",
        f"  typo edits (1 error): median {statistics.median(ms[0::2]):,.0f} ms; "
        f"fix edits (compiles, IR built): median {statistics.median(ms[1::2]):,.0f} ms",
        f"compile (in process): {ratio['compile_s'] * 1000:,.0f} ms; "
        f"yaml CSafeLoader: {ratio['yaml_c_s'] * 1000:,.0f} ms; "
        f"compile ÷ CSafeLoader = {ratio['compile_s'] / ratio['yaml_c_s']:.2f} (goal ≤ 1.0)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
