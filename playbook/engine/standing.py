"""Standing groups on the engine's timeline (docs/language.md §7.2, docs/semantics.md).

A standing group is always open. Each account has its own chain of numbered groups
(`VIP群/a1/1`, `VIP群/a1/2`, …), or, with `owner "a1"`, every account's contacts share
a1's chain. A group holds at most `size` members; who joins when every group of the
chain is full goes into the next number, made then. This is what the platform does:
a WeCom join way with `auto_create_room` makes a new room when its groups are full
("auto_create_room 当群满了后，是否自动新建群",
https://developer.work.weixin.qq.com/document/path/92229).

Membership comes from `joined_group` / `left_group` whose `group` is the group's name (or
one of its numbered groups' id), and from the contact's `groups` field (data files, an
import, `contact_updated`): the field, which `in group G` reads, changes with the same
events (engine/core.apply_effects), and a seat follows it. A member
who stops matching `admit` is "lapsed" once (its `when not admitted` steps run) until
it matches again; nobody is removed by the engine — the platform cannot remove a customer
from a customer group, so the operator decides (a task says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from playbook.compiler import ir
from playbook.engine.render import MissingValue, render
from playbook.vocab import reasons
from playbook.vocab.model import Event, TouchRequest

if TYPE_CHECKING:
    from playbook.engine.host import Flows as FlowSet

JOINED, LEFT = "joined_group", "left_group"


def group_name(value: Any) -> str | None:
    """The group an event's `group` names: a group's name, or a numbered group's id
    (`NAME/…`); None when the event names none."""
    if not isinstance(value, str) or not value:
        return None
    return value.split("/", 1)[0]


class Seat:
    """One numbered group of a chain: its members in the order they joined."""

    __slots__ = ("id", "chain", "account", "number", "members", "lapsed")

    def __init__(self, id: str, chain: str, account: str, number: int):
        self.id = id
        self.chain = chain  # the account whose chain it is (or the owner)
        self.account = account  # who owns (群主) and posts into it
        self.number = number
        self.members: list[str] = []
        self.lapsed: set[str] = set()  # members who no longer match `admit`, told once


class SeatState(NamedTuple):
    """A numbered group of a standing group as a value (the runner's item, by its id)."""

    id: str
    chain: str
    account: str
    number: int
    members: list[str]  # in the order they joined
    lapsed: list[str]  # in id order


class StandingRun:
    def __init__(self, flows: FlowSet, g: ir.Standing):
        self.flows = flows
        self.group = g
        self.name = g.name
        self.key = ""
        self.engine = flows.engine
        self.chains: dict[str, list[Seat]] = {}
        self.seat_of: dict[str, Seat] = {}  # member -> the numbered group it is in

    # ---- schedules ------------------------------------------------------------------------------
    def activate(self, t: int) -> None:
        """Posts are laid out; contacts the data already shows in the group (their `groups`
        field) take their seats, in id order."""
        for index, post in enumerate(self.group.posts):
            self.flows.repeat(post.schedule, t, self.key, index)
        contacts = self.engine.contacts
        for cid in sorted(c for c, f in contacts.fields.items() if self.name in (f.get("groups") or ())):
            if contacts.active(cid):
                self._join(cid, self.name, t)
                self._check(cid, t)

    def schedule_of(self, rule: int) -> Any:
        return self.group.posts[rule].schedule

    def fired(self, rule: int, t: int) -> None:
        """A post's schedule fired: it goes into every numbered group of every chain."""
        post = self.group.posts[rule]
        program = self.flows.program
        stamp = self.flows.clock.local(t).strftime("%Y-%m-%dT%H:%M")
        for chain in sorted(self.chains):
            for seat in self.chains[chain]:
                req = TouchRequest(due=t, channel="group", account=seat.account, flow=self.name, step=post.label,
                                   step_order=rule, priority=0, program=program,
                                   key=f"{program.version}/{seat.id}/{rule}/{stamp}", group=seat.id,
                                   content=post.content)  # fmt: skip
                if not seat.members:
                    req.cancelled = reasons.EMPTY_GROUP
                self.engine.request(req)

    # ---- invitations ------------------------------------------------------------------------------
    def admitted(self, cid: str, t: int) -> bool:
        return self.flows.matches(self.group.admit, cid, t)

    def invite(self, req: TouchRequest, cid: str, t: int) -> None:
        """A journey's `invite G`: the invitation points at the chain's first group with
        room; it is skipped for a contact `admit` does not let in, or already a member."""
        req.content = self.group.invite
        seat = self.seat_of.get(cid)
        if seat is not None:
            req.group = seat.id
            req.cancelled = reasons.already_member(self.name)
            return
        if not self.admitted(cid, t):
            req.cancelled = reasons.not_admitted(self.name)
            return
        chain = self._chain_of(cid)
        if chain is None:
            req.cancelled = reasons.NO_ACCOUNT
            return
        req.group = self._with_room(chain, t).id

    def _chain_of(self, cid: str) -> str | None:
        return self.group.owner or self.engine.contacts.fields.get(cid, {}).get("account")

    def _with_room(self, chain: str, t: int) -> Seat:
        """The chain's first numbered group with room; a new one when all are full."""
        seats = self.chains.setdefault(chain, [])
        for seat in seats:
            if len(seat.members) < self.group.size:
                return seat
        number = len(seats) + 1
        seat = Seat(f"{self.name}/{chain}/{number}", chain, chain, number)
        seats.append(seat)
        self.flows.dirty(self.key, seat.id)
        self.flows.emit(t, "group_opened", None, self.name, group=seat.id, account=seat.account,
                        title=self._title(seat), members=0)  # fmt: skip
        return seat

    def _title(self, seat: Seat) -> str:
        try:
            title = render(
                self.group.title, None, self.engine.contacts.accounts.get(seat.account), None, self.flows.clock
            )
        except MissingValue:
            title = self.name
        return f"{title}{seat.number}" if seat.number > 1 else title

    # ---- membership ---------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        value = event.data.get("group")
        if group_name(value) != self.name or event.contact not in self.engine.contacts.fields:
            return
        if event.type == JOINED:
            self._join(event.contact, str(value), event.at)
        else:
            self._leave(event.contact, event.at)

    def _join(self, cid: str, value: str, t: int) -> None:
        if cid in self.seat_of:
            return  # already a member: one seat per contact
        chain = self._chain_of(cid)
        if chain is None:
            return
        named = next((s for s in self.chains.get(chain, ()) if s.id == value), None)
        seat = named if named is not None and len(named.members) < self.group.size else self._with_room(chain, t)
        seat.members.append(cid)
        self.seat_of[cid] = seat
        self.flows.dirty(self.key, seat.id)
        self.flows.emit(t, "group_joined", cid, self.name, group=seat.id, members=len(seat.members))
        if len(seat.members) == self.group.size:
            self.flows.emit(t, "group_full", None, self.name, group=seat.id, members=len(seat.members))

    def _leave(self, cid: str, t: int) -> None:
        seat = self.seat_of.pop(cid, None)
        if seat is None:
            return
        seat.members.remove(cid)
        seat.lapsed.discard(cid)
        self.flows.dirty(self.key, seat.id)
        self.flows.emit(t, "group_left", cid, self.name, group=seat.id, members=len(seat.members))

    def contact_changed(self, cid: str) -> None:
        """`groups` changed without a member event (an import, a contact_updated): the seat
        follows it. Then `admit` is asked again of a member."""
        t = self.engine.now
        listed = self.name in (self.engine.contacts.fields.get(cid, {}).get("groups") or ())
        if listed and cid not in self.seat_of:
            self._join(cid, self.name, t)
        elif not listed and cid in self.seat_of:
            self._leave(cid, t)
        if cid in self.seat_of:
            self._check(cid, t)

    def day_tick(self, t: int) -> None:
        """00:00: `admit` is asked again of every member (a `within` rule lapses with time)."""
        if self.group.admit is not None:
            for cid in list(self.seat_of):
                self._check(cid, t)

    def _check(self, cid: str, t: int) -> None:
        """A member who no longer matches `admit` lapses (once, until it matches again)."""
        if self.group.admit is None:
            return
        seat = self.seat_of[cid]
        admitted = self.admitted(cid, t)  # a contact who deleted us may still be in the group: `admit` decides
        if admitted and cid in seat.lapsed:
            seat.lapsed.discard(cid)
            self.flows.dirty(self.key, seat.id)
        elif not admitted and cid not in seat.lapsed:
            seat.lapsed.add(cid)
            self.flows.dirty(self.key, seat.id)
            self.flows.emit(t, "group_lapsed", cid, self.name, group=seat.id)
            self._lapse(seat, cid, t)

    def _lapse(self, seat: Seat, cid: str, t: int) -> None:
        """The `when not admitted` steps, each at once: a dm from the contact's account, a
        task for the group's owner account, or a tag change."""
        program = self.flows.program
        for node_id in self.group.lapse:
            node = self.group.nodes[node_id]
            if node.kind in ("tag_add", "tag_remove"):
                self.flows.tag(cid, node.text or "", node.kind == "tag_add", t, self.name)
                continue
            account = seat.account if node.kind == "task" else self.engine.contacts.fields[cid].get("account")
            req = TouchRequest(due=t, channel=node.kind, account=account, flow=self.name,
                               step=f"when not admitted: {node.label}", step_order=int(node_id[1:]), priority=0,
                               program=program, key=f"{program.version}/{seat.id}/{cid}/lapse/{node_id}/{t}",
                               contact=cid, group=seat.id)  # fmt: skip
            if node.kind == "dm":
                req.content = node.content
            else:
                req.task_text = node.text
            self.engine.request(req)

    # ---- versions and the daemon's store ------------------------------------------------------------
    def take_over_from(self, olders: Sequence[StandingRun]) -> None:
        """Nothing: an older version's numbered groups stay its own."""

    def snapshot(self, items: Iterable[str]) -> list[SeatState]:
        """The numbered groups named (a group never goes away: each has its snapshot)."""
        by_id = {seat.id: seat for seats in self.chains.values() for seat in seats}
        return [SeatState(seat.id, seat.chain, seat.account, seat.number, list(seat.members), sorted(seat.lapsed))
                for seat in (by_id.get(item) for item in items) if seat is not None]  # fmt: skip

    def restore(self, snapshots: Iterable[SeatState]) -> None:
        for state in snapshots:
            seat = Seat(state.id, state.chain, state.account, state.number)
            seat.members, seat.lapsed = list(state.members), set(state.lapsed)
            seats = self.chains.setdefault(seat.chain, [])
            seats.append(seat)
            seats.sort(key=lambda s: s.number)
            for cid in seat.members:
                self.seat_of[cid] = seat
