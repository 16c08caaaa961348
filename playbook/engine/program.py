"""One compiled playbook ready to run (`Program`): its clock, quiet hours and limits, and its
segments as row predicates and column-wise memberships. The engine runs one per version;
its runners (engine/flows.py) read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from playbook.compiler import ir
from playbook.engine.columns import Columns, Membership, VecCompiler
from playbook.engine.expr import Compiler, Scope, fields_read, segment_table, uses_time
from playbook.engine.policy import LimitCounter, Policies
from playbook.vocab import reasons
from playbook.vocab.limits import LimitRule
from playbook.vocab.localtime import LocalTime, QuietWindow
from playbook.vocab.reasons import Reason


def identity(pb: ir.Playbook) -> str:
    """The playbook a compiled version belongs to: its path's name, else its title (what
    the store files versions under)."""
    return pb.name or pb.title or ""


class Program:
    """One compiled playbook, ready to run: its clock, policies and predicates."""

    def __init__(self, pb: ir.Playbook, columns: Columns, shared_limits: Iterable[LimitCounter] = ()):
        self.ir = pb
        self.version = pb.version
        self.name = pb.title or pb.name
        # The playbook this is a version of (its path's name, else its title): versions of
        # one playbook share its limits (an edit never resets what they counted).
        self.identity = identity(pb)
        # The daemon's launch gate (runtime/approvals.py): while `awaiting` is set, every touch
        # of this version is held with it as the reason; with `refused` set, skipped.
        self.awaiting: Reason | None = None
        self.refused: Reason | None = None
        self.clock = LocalTime(pb.timezone)
        quiet = QuietWindow(pb.quiet.start, pb.quiet.end, self.clock) if pb.quiet else None
        rules = [LimitRule(x.channel, x.count, x.scope, x.period, x.action, reasons.limit(x.channel, x.count, x.scope, x.period))
                 for x in pb.limits]  # fmt: skip
        self.policies = Policies(self.clock, quiet, rules, list(shared_limits))
        segment_docs = {k: ir.to_doc(v.expr) for k, v in pb.segments.items()}
        self.segment_docs = segment_docs
        self.segments = segment_table({k: {"expr": v} for k, v in segment_docs.items()}, self.clock)
        self.expr = Compiler(self.clock, self.segments)
        self.columns = columns
        self.vec = VecCompiler(columns, self.clock, segment_docs)
        self._compiled: dict[int, Callable[[Scope], bool]] = {}
        self.memberships: dict[int, Membership] = {}
        self._content_plans: dict[str, tuple[str | None, list[tuple[str, str]], list[str]]] = {}

    def predicate(self, e: Any) -> Callable[[Scope], bool]:
        """A compiled predicate for an IR expression (cached by identity)."""
        fn = self._compiled.get(id(e))
        if fn is None:
            fn = self.expr.compile(ir.to_doc(e) if hasattr(e, "model_dump") else e)
            self._compiled[id(e)] = fn
        return fn

    def content_plan(self, name: str) -> tuple[str | None, list[tuple[str, str]], list[str]]:
        """A content's templates to render: its text, its other parts, its images."""
        plan = self._content_plans.get(name)
        if plan is None:
            content = self.ir.contents[name]
            parts = [
                (k, v)
                for k in ("title", "desc", "link", "miniprogram", "page", "video", "file")
                if (v := getattr(content, k))
            ]
            plan = self._content_plans[name] = (content.text, parts, list(content.images))
        return plan

    def membership(self, e: Any) -> Membership:
        """Who matches expression `e`, for every contact at once (kept current)."""
        m = self.memberships.get(id(e))
        if m is None:
            doc = ir.to_doc(e)
            row = self.predicate(e)
            contacts = self.columns.contacts

            def row_match(cid: str, now: int) -> bool:
                return row(contacts.scope(cid, now))

            m = Membership(self.vec.compile(doc), row_match, uses_time(doc, self.segment_docs), self.columns)
            m.fields = fields_read(doc, self.segment_docs)
            self.memberships[id(e)] = m
        return m
