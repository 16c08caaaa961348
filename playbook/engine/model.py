"""Moved to `playbook.vocab.model` (the vocabulary below the engine, docs/architecture.md).

These names stay importable from here for code written against the old place (branches in
flight when it moved); import them from `playbook.vocab.model`. To be removed once nothing
imports this module.
"""

from playbook.vocab.model import *  # noqa: F403
