"""Moved to `playbook.vocab.model` (the vocabulary below the engine, docs/architecture.md).

These names stay importable from here for code written against the old place (branches in
flight when it moved); import them from `playbook.vocab.model`. To be removed once nothing
imports this module.
"""

from playbook.vocab.model import (  # noqa: F401
    DEFERRED,
    OK,
    PHASE_EVENT,
    PHASE_RETRY,
    PHASE_SCHEDULE,
    PHASE_STEP,
    PHASE_TICK,
    SKIPPED,
    Event,
    StateEvent,
    Touch,
    TouchBatch,
    TouchRequest,
    TouchRun,
    flow_keys,
)
