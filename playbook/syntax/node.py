"""Dataclass-like syntax-tree classes that are cheap to define.

`dataclasses` compiles each generated method with its own `exec`: for the ~60 AST classes
that is ~430 compilations and most of `playbook check`'s start-up budget. `@node` records
a class; `build_nodes()` then generates every recorded class's `__init__`, `__eq__`,
`__hash__` and `__repr__` in a single compilation (whose bytecode is kept in the user's
cache directory, as Python keeps a module's in __pycache__). The result behaves like
`@dataclass(eq=True)`: same constructor signature (positional and keyword, with
defaults), equality over the compared fields only, and `fields(node)` for generic walks.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


class Opt:
    """A field's default and whether it takes part in equality (like dataclasses.field)."""

    __slots__ = ("default", "factory", "compare")

    def __init__(self, default: Any = _MISSING, factory: Callable[[], Any] | None = None, compare: bool = True):
        self.default, self.factory, self.compare = default, factory, compare


def opt(default: Any = _MISSING, *, factory: Callable[[], Any] | None = None, compare: bool = True) -> Any:
    return Opt(default, factory, compare)


class FieldInfo:
    __slots__ = ("name", "compare")

    def __init__(self, name: str, compare: bool):
        self.name, self.compare = name, compare


_PENDING: list[type] = []


def node(cls: type[T]) -> type[T]:
    _PENDING.append(cls)
    return cls


def fields(obj: Any) -> tuple[FieldInfo, ...]:
    return type(obj).__node_fields__


def is_node(obj: Any) -> bool:
    return hasattr(type(obj), "__node_fields__")


def build_nodes() -> None:
    """Generate the methods of every class recorded by @node, in one compilation."""
    lines: list[str] = []
    env: dict[str, Any] = {"_MISSING": _MISSING}
    plans = []
    for index, cls in enumerate(_PENDING):
        names = list(cls.__dict__.get("__annotations__", {}))
        params, body, compared, infos = [], [], [], []
        for name in names:
            spec = cls.__dict__.get(name, _MISSING)
            if not isinstance(spec, Opt):
                spec = Opt(spec)
            if spec.factory is not None:
                env[f"_f{index}_{name}"] = spec.factory
                params.append(f"{name}=_MISSING")
                body.append(f"  self.{name} = _f{index}_{name}() if {name} is _MISSING else {name}")
            elif spec.default is not _MISSING:
                env[f"_d{index}_{name}"] = spec.default
                params.append(f"{name}=_d{index}_{name}")
                body.append(f"  self.{name} = {name}")
            else:
                params.append(name)
                body.append(f"  self.{name} = {name}")
            if spec.compare:
                compared.append(name)
            infos.append(FieldInfo(name, spec.compare))
        own = "".join(f"self.{n}," for n in compared)
        other = "".join(f"other.{n}," for n in compared)
        shown = ", ".join(f"{n}={{self.{n}!r}}" for n in compared)
        lines += [
            f"def _init{index}(self, {', '.join(params)}):",
            *(body or ["  pass"]),
            f"def _eq{index}(self, other):",
            "  if other.__class__ is not self.__class__: return NotImplemented",
            f"  return ({own}) == ({other})",
            f"def _hash{index}(self): return hash(({own}))",
            f"def _repr{index}(self): return f'{cls.__qualname__}({shown})'",
        ]
        plans.append((cls, index, names, tuple(infos)))
    exec(_compiled("\n".join(lines)), env)  # noqa: S102 - our own generated code
    for cls, index, names, infos in plans:
        for method in ("init", "eq", "hash", "repr"):
            setattr(cls, f"__{method}__", env[f"_{method}{index}"])
        for name in names:  # drop the Opt markers; plain defaults stay as class attributes
            if isinstance(cls.__dict__.get(name), Opt):
                delattr(cls, name)
        cls.__node_fields__ = infos  # type: ignore[attr-defined]
        cls.__match_args__ = tuple(names)  # type: ignore[attr-defined]
    _PENDING.clear()


def cache_dir() -> Path:
    """Where playbook keeps what it can rebuild: $PLAYBOOK_CACHE_DIR, else
    $XDG_CACHE_HOME/playbook, else ~/.cache/playbook."""
    if os.environ.get("PLAYBOOK_CACHE_DIR"):
        return Path(os.environ["PLAYBOOK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "playbook"


def _compiled(source: str) -> CodeType:
    """compile(SOURCE), its bytecode kept between processes under the source's hash and the
    interpreter's cache tag (written unless Python is told not to write bytecode); a cache
    that cannot be read or written is only slower."""
    key = hashlib.sha256(source.encode("utf-8")).hexdigest()[:20]
    path = cache_dir() / f"nodes-{sys.implementation.cache_tag}-{key}.bin"
    try:
        code = marshal.loads(path.read_bytes())
        if isinstance(code, CodeType):
            return code
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = compile(source, "<playbook.syntax.node>", "exec")
    if not sys.dont_write_bytecode:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_bytes(marshal.dumps(code))
            os.replace(partial, path)  # whole or not at all, whoever writes at the same time
        except OSError:
            pass
    return code
