from pathlib import Path

from playbook.syntax.parser import parse_file

ROOT = Path(__file__).resolve().parents[1]


def test_examples_parse():
    for path in sorted((ROOT / "playbooks").glob("*.pb")):
        assert parse_file(path).declarations
