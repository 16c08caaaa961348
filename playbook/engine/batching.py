"""Plan-only batching of touches: touches alike but for their contact (a rotation's day for
one account, a group's invitations) go through the competition as one TouchBatch and come
out as TouchRuns — what a plan of a million touches keeps — instead of a TouchRequest and a
Touch each. The daemon never batches (its journal watches every touch one by one).

The engine (engine/core.py) asks four things, and nothing here reaches back into it:
- `batchable(like)`: whether touches like `like` can be requested as a batch;
- `batch_of(like, contacts, keys)`: them as a TouchBatch, members in key order;
- `whole_batches(ordered, t)`: an instant's touches, a batch taken whole where nothing
  comes between its members, else as requests of their own;
- `try_batch(batch, t, held_until, contacts, hold)`: a batch's turn — the TouchRuns to
  emit; a held member is handed to `hold` as a request of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import methodcaller
from typing import Any

from playbook.engine.contacts import Contacts
from playbook.engine.policy import SEND, Verdict
from playbook.engine.program import Program
from playbook.engine.render import MissingValue, member_renderer
from playbook.vocab import reasons
from playbook.vocab.model import OK, SKIPPED, TouchBatch, TouchRequest, TouchRun

Hold = Callable[[TouchRequest, Verdict], None]
Members = tuple[list[str], list[str], list[str]]  # contacts, keys, texts


def batchable(like: TouchRequest) -> bool:
    """Whether touches like `like` (but for their contact) can go as one TouchBatch: text
    alone, from one account, not a journey's step (no origin) and no audience."""
    plain = like.content is None or _text_only(like.program, like.content)
    return plain and like.account is not None and like.origin is None and like.audience_of is None


def batch_of(like: TouchRequest, contacts: list[str], keys: list[str]) -> TouchBatch:
    """`like` for each contact and key as a TouchBatch, its members in key order."""
    if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
        keys, contacts = map(list, zip(*sorted(zip(keys, contacts, strict=True)), strict=True))
    return TouchBatch(like, contacts, keys)


def try_batch(batch: TouchBatch, t: int, held_until: int | None, contacts: Contacts, hold: Hold) -> list[TouchRun]:
    """A batch's turn: each member as the engine's `_try` would take it as a request of its
    own, in key order; those that go out, and those skipped for one reason, come out as one
    TouchRun each; a held member goes to `hold` as a request of its own."""
    like = batch.like
    program: Program = like.program
    account, channel = like.account, like.channel
    sent: Members = ([], [], [])
    skipped: dict[str, Members] = {}
    closed = like.not_after is not None and t >= like.not_after
    deleted, fields = contacts.deleted, contacts.fields
    policies = program.policies
    judge = policies.judge
    fill = _filler(like, program, contacts)
    # Where every limit on these touches counts per account and quiet hours do not hold
    # them, members go out unjudged while the limits leave room; they are counted
    # together, before the next member is judged and at the end.
    room = policies.room_per_account(t, channel, account) if held_until is None and account is not None else None
    uncounted = 0
    for contact, key in zip(batch.contacts, batch.keys, strict=True):
        if contact in deleted:
            reason = reasons.CONTACT_DELETED
        elif closed:
            reason = reasons.GROUP_CLOSED
        else:
            if room:
                verdict = SEND
            else:
                if uncounted:
                    policies.record_per_account(t, channel, account, uncounted)  # type: ignore[arg-type]
                    uncounted = 0
                verdict = judge(t, channel, account, contact, held_until)
            if verdict is SEND or verdict.send:
                try:
                    text = fill(fields.get(contact)) if fill is not None else ""
                except MissingValue as exc:
                    reason = reasons.missing(exc.path)
                else:
                    if room:
                        room -= 1
                        uncounted += 1
                    else:
                        policies.record(t, channel, account, contact)
                    sent[0].append(contact)
                    sent[1].append(key)
                    sent[2].append(text)
                    continue
            elif verdict.retry_at is None:
                reason = verdict.reason
            else:
                hold(like.member(contact, key), verdict)
                continue
        run = skipped.get(reason)
        if run is None:
            run = skipped[reason] = ([], [], [])
        run[0].append(contact)
        run[1].append(key)
        run[2].append("")
    if uncounted:
        policies.record_per_account(t, channel, account, uncounted)  # type: ignore[arg-type]
    return _runs(t, like, sent, skipped)


def _filler(
    like: TouchRequest, program: Program, contacts: Contacts
) -> Callable[[Mapping[str, Any] | None], str] | None:
    """The renderer of a member's text from its contact's fields (None: no text)."""
    template = like.task_text if like.task_text is not None else program.content_plan(like.content or "")[0]
    if not template:
        return None
    return member_renderer(template, contacts.accounts.get(like.account or ""), like.event, program.clock)


def _runs(t: int, like: TouchRequest, sent: Members, skipped: dict[str, Members]) -> list[TouchRun]:
    """The TouchRuns of a batch's turn: who went out (a batch is tried when due:
    `whole_batches`), then who was skipped, one run per reason."""
    runs = [TouchRun(t, like, OK, "", *sent)] if sent[0] else []
    runs += [TouchRun(t, like, SKIPPED, reason, *run) for reason, run in skipped.items()]
    return runs


def _text_only(program: Program, content: str) -> bool:
    """Whether a content is text alone (no parts, no images): all a TouchRun holds."""
    _, parts, images = program.content_plan(content)
    return not parts and not images


def whole_batches(ordered: list[TouchRequest | TouchBatch], t: int) -> list[TouchRequest | TouchBatch]:
    """The instant's touches in competition order, a batch taken whole where nothing comes
    between its members: where another touch's key falls among a batch's keys (same
    priority, due time, flow and step order), or the batch is not due now (never so: a
    batch is requested when due), every batch goes as requests of its own."""
    if _all_whole(ordered, t):
        return ordered
    single: list[TouchRequest | TouchBatch] = []
    for req in ordered:
        if req.__class__ is TouchBatch:
            single += [req.like.member(c, k) for c, k in zip(req.contacts, req.keys, strict=True)]  # type: ignore
        else:
            single.append(req)
    single.sort(key=methodcaller("order"))  # competition order (TouchRequest.order)
    return single


def _all_whole(ordered: list[TouchRequest | TouchBatch], t: int) -> bool:
    """Whether every batch among the instant's touches is due now and has no other touch
    among its keys."""
    for i, req in enumerate(ordered):
        if req.__class__ is not TouchBatch:
            continue
        if req.like.due != t:  # type: ignore[union-attr]
            return False
        if i + 1 < len(ordered):
            mine, after = req.order(), ordered[i + 1].order()
            last = req.keys[-1]  # type: ignore[union-attr]
            if mine[:4] == after[:4] and after[4] <= last:
                return False
    return True
