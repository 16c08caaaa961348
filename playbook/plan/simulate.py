"""`--simulate reply=0.3,purchase=0.05,…`: forecast with events drawn from probabilities.

Each draw is seeded by (seed, the touch's idempotency key, what is drawn), so the same
inputs always give the same events, whatever order the engine happens to process in.

| key | after each … | the contact … | when |
|---|---|---|---|
| reply | dm that goes out | writes back (`message`) | 10 min – 6 h later |
| purchase | dm that goes out | buys (`purchase`, amount = its average order, else 100) | 1 h – 3 days later |
| delete | dm that goes out | removes or blocks us (`deleted`) | 1 h – 1 day later |
| interaction | Moments post | likes or comments (`moment_interaction`), each contact who sees it | 10 min – 12 h later |
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import t
from playbook.vocab.model import DEFERRED, OK, Event, Touch

if TYPE_CHECKING:
    from playbook.engine.core import Engine

# key -> (event type, trigger channel, min delay s, max delay s)
KINDS = {
    "reply": ("message", "dm", 600, 6 * 3600),
    "purchase": ("purchase", "dm", 3600, 3 * 86400),
    "delete": ("deleted", "dm", 3600, 86400),
    "interaction": ("moment_interaction", "moment", 600, 12 * 3600),
}


def parse_simulate(text: str | None) -> dict[str, float]:
    """'reply=0.3,purchase=0.05' -> {'reply': 0.3, 'purchase': 0.05}."""
    out: dict[str, float] = {}
    if not text:
        return out
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        problem = None
        if not sep or key not in KINDS:
            problem = t("--simulate: '{part}' — use KEY=PROBABILITY with KEY one of {keys}",
                        part=part.strip(), keys=", ".join(KINDS))  # fmt: skip
        else:
            try:
                p = float(value)
            except ValueError:
                p = -1.0
            if not 0 <= p <= 1:
                problem = t("--simulate: the probability for {key} must be a number from 0 to 1", key=key)
            else:
                out[key] = p
        if problem:
            raise PlaybookError([Diagnostic(ERROR, "option", problem)])
    return out


class Simulator:
    def __init__(self, odds: dict[str, float], seed: int, engine: Engine, first_seq: int):
        self.odds = odds
        self.seed = seed
        self.engine = engine
        self.seq = first_seq
        self.drawn: list[Event] = []  # the events it made up, for the plan to show

    def _rng(self, key: str, kind: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}\x00{key}\x00{kind}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def after_touch(self, touch: Touch) -> None:
        if touch.outcome not in (OK, DEFERRED):
            return
        for kind, p in sorted(self.odds.items()):
            event_type, channel, low, high = KINDS[kind]
            if touch.channel != channel or p <= 0:
                continue
            targets = touch.audience.ids() if channel == "moment" and touch.audience is not None else [touch.contact]
            for cid in targets or ():
                if cid is None:
                    continue
                rng = self._rng(f"{touch.key}\x00{cid}", kind)
                if rng.random() >= p:
                    continue
                at = touch.at + rng.randint(low, high)
                data: dict[str, object] = {"simulated": True}
                if event_type == "purchase":
                    record = self.engine.contacts.fields.get(cid, {})
                    spent, orders = record.get("spent"), record.get("orders")
                    average = spent / orders if isinstance(spent, int | float) and orders else 100
                    data["amount"] = round(float(average), 2)
                self.seq += 1
                event = Event(event_type, cid, at, data, self.seq)
                self.drawn.append(event)
                self.engine.feed(event)
