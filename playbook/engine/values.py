"""Moved to `playbook.vocab.values` (the vocabulary below the engine, docs/architecture.md).

These names stay importable from here for code written against the old place (branches in
flight when it moved); import them from `playbook.vocab.values`. To be removed once nothing
imports this module.
"""

from playbook.vocab.values import *  # noqa: F403
