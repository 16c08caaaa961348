"""The language server (`playbook lsp`): a layer beside cli that editors talk to over stdio.

It uses the compiler as it is — the diagnostics are `playbook check`'s, with the same codes,
messages, severities and positions. Only `playbook.cli` imports it.
"""
