"""Optional dependencies: a missing one is named with the extra that installs it, in one
line, never a traceback. The module is made unimportable the way a machine without it
is (`sys.modules[name] = None` before anything imports it), so the real import path runs:
SQLAlchemy's dialect imports its driver and fails."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from conftest import ROOT

from playbook.extras import OPTIONAL

WITHOUT = """import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # `import name` now fails: ModuleNotFoundError, as when not installed
from playbook.cli.main import main
sys.argv = ["playbook", *sys.argv[2:]]
main()
"""
PG = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def run_without(modules: str, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PLAYBOOK_LANG": lang, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, modules, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--db", PG),
        ("plan", "playbooks/new_customer.pb", "--db", PG),
        ("run", "--once", "playbooks/new_customer.pb", "--db", PG),
        ("status", "--db", "postgresql://nobody@127.0.0.1:1/none"),
    ],
    ids=["status", "plan", "run", "plain-url"],
)
def test_missing_psycopg_says_which_extra(args: tuple[str, ...]) -> None:
    out = run_without("psycopg", *args)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "psycopg is not installed: install playbook[postgresql]" in lines[0]


def test_missing_psycopg_in_chinese() -> None:
    out = run_without("psycopg", "status", "--db", PG, lang="zh")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "未安装 psycopg：请安装 playbook[postgresql]" in out.stderr


def test_sqlite_needs_no_extra() -> None:
    out = run_without("psycopg", "status", "--db", "sqlite://")
    assert "playbook[" not in out.stderr and "Traceback" not in out.stderr


def _import_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("-", "_")


def test_every_optional_import_is_listed() -> None:
    """Every module playbook/ imports that is neither the standard library, nor a core
    dependency, is in OPTIONAL, with the extra of pyproject.toml that installs it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_import_name(r) for r in project["dependencies"]}
    # and what the core dependencies themselves require (pydantic brings pydantic_core)
    core |= {_import_name(r) for dist in list(core) for r in metadata.requires(dist) or () if "extra ==" not in r}
    extras = {
        name: {_import_name(r) for r in reqs}
        for name, reqs in project["optional-dependencies"].items()
        if name != "test"  # what the tests need, never imported by the package
    }
    imported: set[str] = set()
    for path in (ROOT / "playbook").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"playbook", "__future__"}
    dists = metadata.packages_distributions()  # module -> the distributions that provide it
    third_party = {m for m in third_party if not core & {_import_name(d) for d in dists.get(m, [m])}}
    modules: dict[str, set[str]] = {}  # distribution -> the modules it installs (vl-convert-python: vl_convert)
    for module, names in dists.items():
        for name in names:
            modules.setdefault(_import_name(name), set()).add(module)
    installs = {extra: {m for d in dists_ for m in modules.get(d, {d})} for extra, dists_ in extras.items()}
    # SQLAlchemy imports the driver by name from the URL: the extras' modules count as imported
    optional = third_party | {m for mods in installs.values() for m in mods}
    assert optional == set(OPTIONAL), "imports from optional extras, not in playbook.extras.OPTIONAL"
    for module, extra in OPTIONAL.items():
        assert module in installs[extra], f"{module}: pyproject.toml's [{extra}] extra does not install it"
