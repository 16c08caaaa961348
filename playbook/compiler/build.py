"""AST → IR for one playbook (a file, or a directory whose .pb files form one playbook):
resolve its names (resolve.py), lower each declaration (lower.py), run the playbook's
rules (check.py), and hash the result. It never stops at the first problem: every check
adds diagnostics and lowering carries on with what is usable, so the operator sees the
whole list at once. `LoweringMemo` lets the language server reuse the lowering of the
declarations an edit did not touch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from playbook.compiler import check, lower, resolve
from playbook.compiler.canonical import IR_VERSION, version_of_doc
from playbook.compiler.context import (  # noqa: F401 — BUILTIN_FIELDS: the language server's
    BUILTIN_FIELDS,
    DECLARATION_KINDS,
    Additions,
    Doc,
    Env,
    obj,
)
from playbook.compiler.lower import schedule_text  # noqa: F401 — the language server's
from playbook.diagnostics import Diagnostic
from playbook.syntax import ast as A

Lowering = Callable[[Env, Additions, Any], Any]


@dataclass(slots=True)
class _Lowered:
    node: Any  # kept so that its id() stays its own while the memo holds it
    doc: Any
    additions: Additions


@dataclass
class _Phase:
    environment: tuple[Any, ...]
    kept: list[Any]  # the environment's nodes, alive so that their ids stay theirs
    lowered: dict[int, _Lowered]
    used: dict[int, _Lowered]


class LoweringMemo:
    """Declarations lowered by the last compile of one playbook, reused when the next compile
    is given the very same AST node (the language server's incremental parse hands back
    unchanged declarations as the same objects) in the same environment — what lowering it
    reads besides its own node (see _Build.environment). An edit inside one content, one
    segment's condition or one journey thus lowers only what it touched;
    tests/test_compile_memo.py proves the result equals a fresh compile."""

    def __init__(self) -> None:
        self.phases: dict[str, _Phase] = {}
        self.reused = 0  # declarations handed back by the last compile (the tests look)

    def begin(self) -> None:
        self.reused = 0

    def phase(self, name: str, environment: tuple[Any, ...], kept: list[Any]) -> _Phase:
        old = self.phases.get(name)
        lowered = old.lowered if old is not None and old.environment == environment else {}
        self.phases[name] = _Phase(environment, kept, lowered, {})
        return self.phases[name]

    def end(self) -> None:
        for phase in self.phases.values():
            phase.lowered, phase.used = phase.used, {}


def build(
    name: str,
    files: list[A.File],
    known_fields: Iterable[str] | None,
    known_accounts: Iterable[Mapping[str, Any]] | None = None,
    memo: LoweringMemo | None = None,
) -> tuple[Doc | None, list[Diagnostic]]:
    """The IR of the playbook made of FILES (None when it has errors) and its diagnostics,
    unsorted and unsuppressed."""
    return _Build(Env.of(name, files, known_fields, known_accounts), memo).run()


class _Build:
    def __init__(self, env: Env, memo: LoweringMemo | None):
        self.env = env
        self.memo = memo
        self.out = Additions()

    def run(self) -> tuple[Doc | None, list[Diagnostic]]:
        env, out = self.env, self.out
        if self.memo is not None:
            self.memo.begin()
        settings = lower.settings(env, out, resolve.collect(env, out))
        tables = env.tables
        phase = self.phase("segments", (self.names(),))  # a condition reads the names declared
        segments = {n: self.lower(phase, lower.segment, d.node) for n, d in tables["segment"].items()}
        phase = self.phase("contents", ())  # a content reads nothing but itself
        contents = {n: self.lower(phase, lower.content, d.node) for n, d in tables["content"].items()}
        phase = self.phase("declarations", *self.environment())
        journeys = {n: self.lower(phase, lower.journey, d.node) for n, d in tables["journey"].items()}
        group_decls = tables["group"].items()
        groups = {n: self.lower(phase, lower.group, d.node) for n, d in group_decls if not lower.is_standing(d.node)}
        standing = {n: self.lower(phase, lower.standing, d.node) for n, d in group_decls if lower.is_standing(d.node)}
        moments = {n: self.lower(phase, lower.moments, d.node) for n, d in tables["moments"].items()}
        rotations = {n: self.lower(phase, lower.rotation, d.node) for n, d in tables["rotate"].items()}
        slas = {n: self.lower(phase, lower.sla, d.node) for n, d in tables["sla"].items()}
        if self.memo is not None:
            self.memo.end()
        lowered = check.Lowered(settings, segments, journeys)
        for rule in check.PLAYBOOK_RULES:
            rule(env, out, lowered)
        if out.has_errors:
            return None, out.diagnostics
        sources = {
            f"{kind}:{name}": obj(file=d.node.file, line=d.node.span.line)
            for kind, table in tables.items()
            for name, d in table.items()
        }
        pb = obj(
            ir_version=IR_VERSION,
            name=env.name,
            title=settings["title"],
            timezone=settings["timezone"],
            quiet=settings["quiet"],
            limits=settings["limits"],
            segments=segments,
            contents=contents,
            journeys={k: v for k, v in journeys.items() if v is not None},
            groups={k: v for k, v in groups.items() if v is not None},
            standing={k: v for k, v in standing.items() if v is not None} or None,
            moments=moments,
            rotations={k: v for k, v in rotations.items() if v is not None},
            slas=slas,
            fields=sorted(out.fields_used),
            events=sorted(out.events_used),
            sources=sources,
        )
        pb["version"] = version_of_doc(pb)
        return pb, out.diagnostics

    # ---- reuse (the language server) --------------------------------------------------------
    def phase(self, name: str, environment: tuple[Any, ...], kept: list[Any] | None = None) -> _Phase | None:
        """The memo's part for declarations lowered against ENVIRONMENT (None: no memo)."""
        if self.memo is None:
            return None
        from playbook.i18n import language

        return self.memo.phase(name, (self.env.name, language(), *environment), kept or [])

    def names(self) -> tuple[Any, ...]:
        """The names declared, of every kind (references and their did-you-means read them)."""
        return tuple((kind, tuple(table)) for kind, table in self.env.tables.items())

    def environment(self) -> tuple[tuple[Any, ...], list[Any]]:
        """What lowering a journey, group, calendar, rotation or service level reads besides
        its own node: the names declared, the events declared, the contents' nodes (a
        reference checks their placeholders), the data's fields and the staff accounts (an
        escalation names one)."""
        env = self.env
        contents = [d.node for d in env.tables["content"].values()]
        fields = None if env.known_fields is None else tuple(sorted(env.known_fields))
        environment = (
            self.names(),
            tuple(env.events_declared),
            tuple(id(node) for node in contents),
            fields,
            tuple(sorted(env.field_aliases.items())),
            None if env.known_accounts is None else tuple(tuple(sorted(a.items())) for a in env.known_accounts),
        )
        return environment, contents

    def lower(self, phase: _Phase | None, lowering: Lowering, node: Any) -> Any:
        """lowering(node), or what it gave for the same node in PHASE's environment last time
        (with its diagnostics and other additions replayed)."""
        if phase is None or self.memo is None:
            return lowering(self.env, self.out, node)
        done = phase.lowered.get(id(node))
        if done is None or done.node is not node:
            added = Additions()
            done = _Lowered(node, lowering(self.env, added, node), added)
        else:
            self.memo.reused += 1
        self.out.merge(done.additions)
        phase.used[id(node)] = done
        return done.doc
