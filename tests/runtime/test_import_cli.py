"""`playbook import` through the real entry point: counts, row problems, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from playbook.runtime.store import Store

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = str(ROOT / "playbooks" / "contacts.csv")
ACCOUNTS = str(ROOT / "playbooks" / "accounts.csv")


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_DB"}  # only what the test sets
    environ.update({"PLAYBOOK_LANG": "en", **(env or {})})
    return subprocess.run([sys.executable, "-m", "playbook", *args], capture_output=True, text=True, cwd=cwd,
                          env=environ, timeout=120)  # fmt: skip


def counts(out: subprocess.CompletedProcess[str]) -> list[tuple[int, int, int, int]]:
    doc = json.loads(out.stdout)
    return [(f["rows"], f["inserted"], f["updated"], f["unchanged"]) for f in doc["files"]]


def test_import_is_idempotent(store_url: str) -> None:
    first = run("import", ACCOUNTS, "--accounts", "--db", store_url, "--format", "json")
    assert first.returncode == 0, first.stderr
    assert counts(first) == [(3, 3, 0, 0)]
    out = run("import", CONTACTS, "--db", store_url, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert counts(out) == [(40, 40, 0, 0)]
    again = run("import", CONTACTS, "--db", store_url, "--format", "json")
    assert counts(again) == [(40, 0, 0, 40)]
    with Store(store_url) as store:
        assert store.status().contacts == 40 and store.status().accounts == 3


def test_bad_rows_are_reported_and_the_rest_imported(tmp_path: Path) -> None:
    data = tmp_path / "contacts.csv"
    data.write_text("id,name,account,added_at\nx1,A,a1,2026-13-01\nx2,B,a1,2026-12-01\n,C,a1,\nx3,D,a2,\n",
                    encoding="utf-8")  # fmt: skip
    out = run("import", str(data), cwd=tmp_path)
    assert out.returncode == 1
    assert "contacts.csv:2:" in out.stderr and "not a date on the calendar" in out.stderr
    assert "contacts.csv:4:" in out.stderr and "the row has no id" in out.stderr
    assert "inserted" in out.stdout
    with Store(str(tmp_path / "playbook.db")) as store:  # the default: playbook.db here
        assert sorted(r["id"] for r in store.load_contacts()[0]) == ["x2", "x3"]
    strict = run("import", str(data), "--strict", "--db", str(tmp_path / "strict.db"), cwd=tmp_path)
    assert strict.returncode == 1 and "nothing imported" in strict.stderr
    with Store(str(tmp_path / "strict.db")) as store:
        assert store.load_contacts() == ([], set())


def test_the_store_comes_from_playbook_db(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    out = run("import", CONTACTS, cwd=tmp_path, env={"PLAYBOOK_DB": str(target)})
    assert out.returncode == 0, out.stderr
    assert target.exists() and not (tmp_path / "playbook.db").exists()


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    out = run("import", CONTACTS, "--timezone", "Mars/Olympus", "--db", str(tmp_path / "x.db"))
    assert out.returncode == 1 and "unknown timezone 'Mars/Olympus'" in out.stderr
    out = run("import", CONTACTS, "--db", str(tmp_path / "no" / "dir" / "x.db"))
    assert out.returncode == 1 and "cannot use the store" in out.stderr and "Traceback" not in out.stderr
    out = run("import", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "y.db"))
    assert out.returncode == 1 and "cannot read file" in out.stderr and "Traceback" not in out.stderr


def test_chinese_output(tmp_path: Path) -> None:
    out = run("--lang", "zh", "import", CONTACTS, "--db", str(tmp_path / "x.db"))
    assert out.returncode == 0, out.stderr
    assert "新增" in out.stdout and "未变" in out.stdout
    help_text = run("--lang", "zh", "--help").stdout
    assert "把联系人或员工账号导入存储" in help_text
