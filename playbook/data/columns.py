"""Which field each column of a data file is: the headers SCRM consoles and Excel export
(客户ID, 客户昵称, 所属员工, …) read as the fields the language knows (id, name, account, …).

A header is matched after normalising it (full-width to ASCII, case, spaces, `_` and `-`
ignored): first the operator's own mapping (`--columns 客户编号=id,…`, the `[columns]`
table of playbook.toml), then the field names themselves, then the synonym tables below. When two columns would be the same field, the earlier rule (and, among
synonyms, the earlier synonym) wins; the other column keeps its own name. Every other
column is a field under its own name, so a playbook can use it (`城市 == "上海"`).

The tables are documented in docs/data.md; keep the two in step.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.i18n import N_, t, tn

CONTACTS, ACCOUNTS, EVENTS = "contacts", "accounts", "events"
_KIND_WORDS = {CONTACTS: N_("contacts"), ACCOUNTS: N_("accounts"), EVENTS: N_("events")}
DROP = "-"  # `--columns 手机号=-`: leave the column out

_ACCOUNT_NAMES = ("所属员工", "所属成员", "跟进人", "跟进员工", "添加人", "负责人", "所属客服", "客服", "员工",
                  "员工账号", "员工ID", "成员ID", "userid", "owner", "follow_user")  # fmt: skip

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    CONTACTS: {
        "id": ("客户ID", "客户编号", "外部联系人ID", "外部联系人", "external_userid", "联系人ID", "会员ID",
               "会员编号", "unionid"),  # fmt: skip
        "name": ("昵称", "客户昵称", "微信昵称", "备注名", "客户备注", "备注", "客户名称", "客户姓名", "姓名", "名字",
                 "nickname", "remark"),  # fmt: skip
        "account": _ACCOUNT_NAMES,
        "tags": ("标签", "企业标签", "客户标签", "个人标签", "tag"),
        "groups": ("所在群", "所在群聊", "所在客户群"),
        "added_at": ("添加时间", "添加好友时间", "加好友时间", "添加日期", "createtime", "add_time"),
        "spent": ("累计消费", "消费金额", "累计消费金额", "消费总额", "总消费", "累计金额"),
        "orders": ("订单数", "累计订单", "累计订单数", "购买次数", "下单次数", "成交订单数"),
        "last_purchase_at": ("最近购买时间", "最后购买时间", "最近下单时间", "最近消费时间"),
        "last_active_at": ("最近互动时间", "最后互动时间", "最近活跃时间", "最近聊天时间"),
    },
    ACCOUNTS: {
        "id": ("员工ID", "员工账号", "成员ID", "账号ID", "账号", "企业微信账号", "userid"),
        "name": ("员工姓名", "员工名称", "成员名称", "员工", "姓名", "名字", "昵称"),
    },
    EVENTS: {
        "type": ("事件", "事件类型", "类型", "event", "event_type"),
        "contact": ("客户ID", "客户编号", "外部联系人ID", "外部联系人", "external_userid", "客户", "联系人"),
        "at": ("时间", "发生时间", "事件时间", "time", "timestamp"),
        "id": ("事件ID", "事件编号", "event_id"),
        "account": _ACCOUNT_NAMES,
        "name": ("昵称", "客户昵称", "微信昵称", "备注名", "客户名称", "姓名"),
        "amount": ("金额", "订单金额", "支付金额", "实付金额", "消费金额"),
        "tag": ("标签",),
        "source": ("来源", "渠道", "添加渠道"),
    },
}

# The columns a file cannot do without (a JSON Lines file has no header: its rows say).
REQUIRED: dict[str, tuple[str, ...]] = {CONTACTS: ("id",), ACCOUNTS: ("id",), EVENTS: ("type", "contact", "at")}


def normal(header: str) -> str:
    """A header as it is matched: full-width to ASCII, case folded, spaces, `_`, `-` and a
    byte order mark ignored."""
    text = unicodedata.normalize("NFKC", header).casefold()
    return "".join(c for c in text if c not in " \t_-\ufeff\u200b")


@dataclass(frozen=True)
class ColumnMap:
    """How the headers of one kind of file become fields."""

    kind: str = CONTACTS
    given: tuple[tuple[str, str], ...] = ()  # the operator's mapping, header -> field, in order

    def rules(self) -> list[tuple[str, dict[str, str]]]:
        """(rule, normal header -> field) from strongest to weakest."""
        synonyms = SYNONYMS[self.kind]
        own = {normal(f): f for f in synonyms} | {normal(f): f for f in REQUIRED[self.kind]}
        user = {normal(h): f for h, f in self.given}
        table: dict[str, str] = {}
        for name, names in synonyms.items():
            for synonym in names:
                table.setdefault(normal(synonym), name)
        return [("given", user), ("field", own), ("synonym", table)]

    def header(self, names: Iterable[str]) -> Header:
        """The fields of a file's columns (`names` as read, stripped)."""
        names = list(names)
        fields: list[str | None] = [None] * len(names)
        taken: dict[str, int] = {}
        how: dict[int, str] = {}
        for rule, table in self.rules():
            # a synonym earlier in its list wins over a later one for the same field
            order = sorted(range(len(names)), key=lambda i: _rank(self.kind, rule, normal(names[i])))
            for i in order:
                if fields[i] is not None or i in how or not names[i]:
                    continue
                target = table.get(normal(names[i]))
                if target is None:
                    continue
                if target == DROP:
                    how[i] = "dropped"
                    continue
                if target in taken:
                    continue  # another column is that field: this one keeps its own name
                fields[i], taken[target], how[i] = target, i, rule
        dropped: list[str] = []
        for i, name in enumerate(names):
            if fields[i] is not None or not name:
                continue
            if how.get(i) == "dropped" or name in taken:  # mapped away, or its name is another column's field
                dropped.append(name)
                continue
            fields[i], taken[name] = name, i
        mapped = [(names[i], fields[i]) for i, r in sorted(how.items()) if r != "dropped" and names[i] != fields[i]]
        return Header(self.kind, names, fields, mapped, dropped)


def _rank(kind: str, rule: str, key: str) -> int:
    if rule != "synonym":
        return 0
    for names in SYNONYMS[kind].values():
        for rank, synonym in enumerate(names):
            if normal(synonym) == key:
                return rank
    return 0


@dataclass
class Header:
    """A file's columns and the field each one is (None: left out)."""

    kind: str
    names: list[str]
    fields: list[str | None]
    mapped: list[tuple[str, str]] = field(default_factory=list)  # (header, field) read as another name
    dropped: list[str] = field(default_factory=list)  # columns left out (mapped away, or a field twice)
    above: int = 0  # rows above the header row (a title), left out

    def own_names(self) -> list[str]:
        """Columns kept as fields under their own names that the language has no meaning for."""
        known = set(SYNONYMS[self.kind]) | set(REQUIRED[self.kind])
        return [n for n, f in zip(self.names, self.fields, strict=True) if f == n and f not in known]

    def missing(self) -> list[str]:
        """The required fields no column is."""
        present = {f for f in self.fields if f}
        return [r for r in REQUIRED[self.kind] if r not in present]

    def check(self, file: str) -> None:
        """One error for the required columns the file lacks, naming what it has."""
        missing = self.missing()
        if not missing:
            return
        found = [n for n in self.names if n]
        nearest = _nearest(missing[0], self.kind, [n for n, f in zip(self.names, self.fields, strict=True)
                                                   if n and f not in REQUIRED[self.kind]])  # fmt: skip
        columns = ", ".join(found) if found else t("none")
        message = t("the {kind} file has no '{field}' column (columns found: {columns})",
                    kind=t(_KIND_WORDS[self.kind]), field="', '".join(missing), columns=columns)  # fmt: skip
        example = f"{nearest or t('COLUMN')}={missing[0]}"
        hint = (t("the nearest is '{column}': say which column it is with --columns {example} (or [columns] in "
                  "playbook.toml)", column=nearest, example=example)
                if nearest else
                t("say which column it is with --columns {example} (or [columns] in playbook.toml)",
                  example=example))  # fmt: skip
        raise PlaybookError([Diagnostic(ERROR, "columns", message, file=file, line=1, hint=hint)])

    def note(self, file: str) -> Diagnostic | None:
        """What was read differently from the headers as written — said once per file, and
        only for a file in a shape of its own (a header mapped, or a column left out)."""
        if not self.mapped and not self.dropped and not self.above:
            return None
        parts = []
        if self.above:
            parts.append(tn("the row above the header row is left out", "the {n} rows above the header row are left out",
                            self.above))  # fmt: skip
        if self.mapped:
            parts.append(t("columns read as: {pairs}", pairs=", ".join(f"{h} → {f}" for h, f in self.mapped)))
        own = self.own_names()
        if own:
            parts.append(t("kept as fields under their own names: {columns}", columns=", ".join(own)))
        if self.dropped:
            parts.append(t("left out: {columns}", columns=", ".join(self.dropped)))
        return Diagnostic("warning", "columns", t("; ").join(parts), file=file)


def _nearest(wanted: str, kind: str, names: list[str]) -> str | None:
    """The column most like the field or one of its synonyms (None: nothing close)."""
    targets = [normal(wanted), *(normal(s) for s in SYNONYMS[kind].get(wanted, ()))]
    best, score = None, 0.0
    for name in names:
        key = normal(name)
        for target in targets:
            ratio = difflib.SequenceMatcher(None, key, target).ratio()
            if ratio > score:
                best, score = name, ratio
    return best if score >= 0.5 else None


def parse_columns(text: str | None, table: Mapping[str, object] | None = None, source: str = "--columns") -> tuple[
        tuple[str, str], ...]:  # fmt: skip
    """The operator's mapping: `--columns 客户编号=id,备注=name` (wins) and the `[columns]`
    table of playbook.toml. A field `-` leaves the column out."""
    pairs: list[tuple[str, str]] = []
    if text:
        for part in text.replace("，", ",").split(","):
            if not part.strip():
                continue
            header, sep, name = part.replace("＝", "=").partition("=")
            if not sep or not header.strip() or not name.strip():
                raise PlaybookError([Diagnostic(ERROR, "option", t(
                    "{source}: '{part}' is not COLUMN=FIELD (like {example})", source=source, part=part.strip(),
                    example="客户编号=id"))])  # fmt: skip
            pairs.append((header.strip(), name.strip()))
    for header, name in (table or {}).items():
        if not isinstance(name, str) or not name.strip():
            raise PlaybookError([Diagnostic(ERROR, "config", t(
                "[columns] {column}: the field must be text, like {example}", column=header,
                example=f'"{header}" = "id"'), file="playbook.toml")])  # fmt: skip
        pairs.append((str(header).strip(), name.strip()))
    return tuple(pairs)
