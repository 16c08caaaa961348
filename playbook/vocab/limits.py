"""A limit rule: how many touches of a channel may go out per contact, account or group in a
calendar period (LANGUAGE.md §12). The playbook's `limit` lines and an adapter's platform quota
(adapters/capabilities.py) are both rules; the engine's policy (engine/policy.py) counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.vocab.reasons import Reason


@dataclass(frozen=True, slots=True)
class LimitRule:
    channel: str  # dm | group | moment | task | any
    count: int | str  # a number, or "days_in_month" (a platform quota)
    scope: str  # contact | account | group (per group instance: a platform's per-chat quota)
    period: str  # day | week | month
    action: str  # defer | skip
    label: Reason  # what a touch it holds or skips gives as its reason
    # a platform quota its own welcome path does not spend: a dm tried within this many seconds
    # of the friend_added event that entered its journey does not count (WeCom's
    # send_welcome_msg, capabilities.wecom_limits); 0: every touch counts
    welcome_free: int = 0

    @property
    def key(self) -> str:
        """What the rule counts, whatever its number or action: two rules with the same key
        count the same touches, so an edited limit (2 instead of 1, `skip` instead of
        `defer`) goes on with the counts of the current period (the store keys counters by it)."""
        return f"{self.channel} per {self.scope} per {self.period}"

    def applies(self, channel: str, has_contact: bool) -> bool:
        if self.scope == "contact" and not has_contact:
            return False
        if self.scope == "group" and channel != "group":
            return False
        return self.channel == "any" or self.channel == channel
