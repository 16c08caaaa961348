"""Moved to `playbook.vocab.localtime` (the vocabulary below the engine, docs/architecture.md).

These names stay importable from here for code written against the old place (branches in
flight when it moved); import them from `playbook.vocab.localtime`. To be removed once nothing
imports this module.
"""

from playbook.vocab.localtime import *  # noqa: F403
