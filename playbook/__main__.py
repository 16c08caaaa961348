"""`python -m playbook` is the `playbook` command."""

from playbook.cli.main import main

main()
