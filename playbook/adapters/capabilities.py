"""What an adapter can carry and which platform limits it declares.

The engine enforces an adapter's limits ahead of time, across every playbook (they are
platform quotas, not one playbook's choice), so `plan --adapter wecom` shows the same
deferrals the daemon will meet. WeCom's figures are from its external-contact API
documents (docs/adapters/wecom.md): a customer receives at most as many mass messages a
month as the month has days, counting every staff member, and one staff member at most
one a day per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError, did_you_mean
from playbook.engine.policy import LimitRule
from playbook.i18n import t


@dataclass(frozen=True)
class Capabilities:
    parts: frozenset[str]  # content parts it can carry: text, image, link, miniprogram, video, file
    limits: tuple[LimitRule, ...] = ()
    dissolve_groups: bool = True  # False: a staff task asks to dissolve a finished group
    batch_size: int = 1  # recipients one call can take (1: no batching)


ALL_PARTS = frozenset({"text", "image", "link", "miniprogram", "video", "file"})


def wecom_limits(mode: str = "month") -> tuple[LimitRule, ...]:
    """WeCom's mass-message quota per customer; the admin may switch the monthly quota
    to 7 a week or 1 a day."""
    daily = LimitRule("dm", 1, "contact", "day", "defer", "wecom: 1 dm per customer per day")
    if mode == "day":
        return (daily,)
    if mode == "week":
        return (daily, LimitRule("dm", 7, "contact", "week", "defer", "wecom: 7 dm per customer per week"))
    return (
        daily,
        LimitRule("dm", "days_in_month", "contact", "month", "defer", "wecom: days-in-month dm per customer"),
    )


BUILTIN: dict[str, Capabilities] = {
    "console": Capabilities(parts=ALL_PARTS),
    "jsonl": Capabilities(parts=ALL_PARTS, batch_size=10_000),
    "webhook": Capabilities(parts=ALL_PARTS, batch_size=1_000),
    "wecom": Capabilities(
        parts=frozenset({"text", "image", "link", "miniprogram", "video", "file"}),
        limits=wecom_limits(),
        dissolve_groups=False,
        batch_size=10_000,
    ),
}


def capabilities_of(name: str) -> Capabilities:
    if name in BUILTIN:
        return BUILTIN[name]
    raise PlaybookError(
        [
            Diagnostic(
                ERROR,
                "option",
                t("unknown adapter '{name}'", name=name),
                hint=did_you_mean(name, BUILTIN) or t("known adapters: {names}", names=", ".join(BUILTIN)),
            )
        ]
    )
