"""The launch gate (issue 12): a new or changed playbook version that would send more than
the configured number of touches within its first hour is loaded but sends nothing until
someone approves it.

    [daemon]
    approve = "above 50"    # the default; or "always", or "never"

The count comes from a forecast (runtime/forecast.py) of the version's first hour, taken
before it is loaded. A version that needs approval is gated in the engine: each of its
touches is held with the reason "awaiting approval of <version>"; `playbook approve`
opens the gate (the held touches are tried again at once, under quiet hours and limits
as any touch), `playbook reject` — or a newer version loaded before the decision —
closes it for good (held touches end skipped with the reason). Decisions live in the
store (`approvals`), so they survive restarts and can be made from any shell.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from playbook.i18n import t
from playbook.vocab.reasons import Reason

PENDING, APPROVED, REJECTED, REPLACED = "pending", "approved", "rejected", "replaced"
STATES = (PENDING, APPROVED, REJECTED, REPLACED)
FIRST_HOUR = 3600


@dataclass(frozen=True, slots=True)
class ApprovePolicy:
    """`[daemon] approve`: which new versions wait for an approval."""

    mode: str  # always | above | never
    above: int = 0  # mode "above": more touches than this in the first hour need approval

    def needs(self, touches: int) -> bool:
        if self.mode == "never":
            return False
        return self.mode == "always" or touches > self.above

    def __str__(self) -> str:
        return f"above {self.above}" if self.mode == "above" else self.mode


DEFAULT_POLICY = ApprovePolicy("above", 50)


@dataclass(slots=True)
class ApprovalRow:
    """A version's request for approval and its decision (the store's `approvals`)."""

    version: str
    state: str  # pending | approved | rejected | replaced
    touches: int  # the first hour's touches, as the forecast gave them
    policy: str  # `[daemon] approve` when it was asked
    summary: dict[str, Any] = field(default_factory=dict)  # {"by_flow": {flow: n}, "by_channel": {channel: n}}
    requested_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    note: str | None = None


def parse_policy(value: object) -> ApprovePolicy:
    """ "always", "never" or "above N" (N a whole number ≥ 0)."""
    if isinstance(value, ApprovePolicy):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("always", "never"):
            return ApprovePolicy(text)
        found = re.fullmatch(r"above\s+(\d+)", text)
        if found:
            return ApprovePolicy("above", int(found.group(1)))
    raise ValueError(t("approve is \"always\", \"never\" or \"above N\" (N touches in a new version's first hour), "
                       "not {value!r}", value=value))  # fmt: skip


def awaiting(version: str) -> Reason:
    """The reason a gated version's touches are held."""
    return Reason("awaiting_approval", version=version)


def refused(version: str, state: str) -> Reason:
    """The reason a rejected (or replaced before approval) version's touches are skipped."""
    return Reason("rejected" if state == REJECTED else "replaced", version=version)
