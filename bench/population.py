"""A synthetic population for the plan benchmark: staff accounts, contacts and a month of events.

    .venv/bin/python bench/population.py 100000               # → bench/out/population/n100000-s20261201-v1/
    .venv/bin/python bench/population.py 1000000 --seed 7 --force

Deterministic: the same N and seed give byte-identical files (each part of the population
draws from its own `random.Random`, seeded by (seed, part)). Pure Python: 17–26 s per
million contacts on the 2-core bench machine. `ensure(n, seed)` returns the directory, generating it only when it is
not cached yet (bench/out/ is not committed).

What is in it (see bench/README.md, "Plan benchmark"):
- accounts.csv: one staff account per ~1,000 contacts (`id,name,store,city`);
- contacts.csv: N contacts (`id,name,account,tags,added_at,spent,orders,city,source,favourite,
  last_purchase_at,gender`): Chinese names (two- and three-character, a few compound
  surnames), WeChat nicknames and some without a name; tags from a weighted pool, some tied
  to what the contact bought (SVIP, 老客, 复购, 高客单); about 60 % never bought (spent,
  orders and last_purchase_at empty), buyers' orders long-tailed and last_purchase_at
  between added_at and the start; added_at over the past year, 3 % within the last week;
- events.jsonl: 30 days from 2026-12-01 00:00 +08:00, sorted by time: `friend_added` for
  ~5 % N new contacts (ids after the last contact; most from 门店二维码, with account, name
  and source; a friend_request before many), then for new and existing contacts
  `message` (answered by `staff_message`), `purchase` (with amount; a spike on 12.12),
  `tag_added`, `moment_interaction`, a few `contact_updated` and `deleted` (nothing
  follows a contact's deletion). Times follow a daily rhythm (evenings busiest, nights quiet).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import json
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "population"

VERSION = 1  # bump when the generated data changes shape: cached populations are keyed by it
DEFAULT_SEED = 20261201
CONTACTS_PER_ACCOUNT = 1000
HORIZON_DAYS = 30
TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 12, 1, tzinfo=TZ)
START_TS = int(START.timestamp())
DAY = 86400

# ---- pools (weights are rough shares, not census figures) ----------------------------------------

SURNAMES = (
    "王 20|李 19|张 18|刘 13|陈 12|杨 7|黄 5|赵 5|吴 4.5|周 4.5|徐 3.5|孙 3|马 3|朱 2.8|胡 2.6|郭 2.4|何 2.2|"
    "高 2|林 2|罗 1.8|郑 1.7|梁 1.6|谢 1.5|宋 1.3|唐 1.3|许 1.2|韩 1.2|冯 1.1|邓 1.1|曹 1|彭 1|曾 1|肖 0.9|"
    "田 0.9|董 0.9|袁 0.8|潘 0.8|于 0.8|蒋 0.8|蔡 0.8|余 0.7|杜 0.7|叶 0.7|程 0.7|苏 0.6|魏 0.6|吕 0.6|丁 0.6|"
    "任 0.5|沈 0.5|姚 0.5|卢 0.5|姜 0.5|崔 0.4|钟 0.4|谭 0.4|陆 0.4|汪 0.4|范 0.4|金 0.4|石 0.3|廖 0.3|贾 0.3|"
    "夏 0.3|韦 0.3|付 0.3|方 0.3|白 0.3|邹 0.3|孟 0.3|熊 0.3|秦 0.3|邱 0.3|江 0.3|尹 0.2|薛 0.2|闫 0.2|段 0.2|"
    "雷 0.2|侯 0.2|龙 0.2|史 0.2|陶 0.2|黎 0.2|贺 0.2|顾 0.2|毛 0.2|郝 0.2|龚 0.2|邵 0.2|万 0.2|钱 0.2|严 0.2|"
    "欧阳 0.05|司马 0.02|上官 0.02|诸葛 0.02|东方 0.01|慕容 0.01"
)
GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 兰 萍 红 鹏 辉 婷 雪 琳 晨 欣 怡 "
    "宇 浩 子 涵 梓 轩 思 雨 佳 嘉 文 博 一 诺 俊 泽 慧 颖 倩 晓 云 丹 燕 玲 建 国 志 海 波 斌 凯 飞 莉 露 蕾 萌 "
    "悦 瑶 洁 璐 岚 欢 微 亮 鑫 宁 彤 可 心 安 然 若 语 天 奕 晴 昊 睿 琪 瑞 楠 薇 菲 凡 蓉 媛 青 春 梅 霖"
).split()
NICKNAMES = (
    "小鱼儿 阿紫 糖糖 木子李 大橙子 一米阳光 安安妈妈 晴天 小太阳 向日葵 静待花开 快乐每一天 岁月静好 "
    "花开半夏 暖暖 点点 豆豆 果果 乐乐 小蜜蜂 追风少年 猫小姐 兔子不吃窝边草 清风徐来 平安是福 "
    "Amy Lily Coco Cherry Vicky Sunny Kiki Grace Emma Jenny Tina Linda Kevin Jason 小Z Lily王 "
    "🌸小花 🍓草莓控 🍊橙意满满 🐱喵喵 ☀️阳光 开心果 芒果布丁 奶茶少糖 陈皮 小笼包"
).split()
STAFF = (
    "小美 阿杰 小雨 小雪 阿宁 小敏 琳琳 小周 阿强 佳佳 小方 晓晓 阿晨 小林 婷婷 小吴 阿凯 小唐 思思 小韩 "
    "露露 小何 阿涛 小苏 欣欣 小许 阿伟 小叶 悦悦 小陆"
).split()
STORES = (
    "上海 静安店|上海 徐汇店|上海 浦东店|上海 长宁店|上海 虹口店|杭州 西湖店|杭州 滨江店|苏州 园区店|"
    "南京 新街口店|宁波 天一店|无锡 梁溪店|嘉兴 南湖店|合肥 天鹅湖店|北京 朝阳店|成都 春熙路店"
)
CITIES = "上海 30|杭州 12|苏州 8|南京 7|宁波 4|无锡 4|嘉兴 3|合肥 3|北京 4|成都 3|绍兴 2|常州 2|昆山 2|深圳 2|广州 2"
SOURCES = "门店二维码 48|朋友推荐 20|小红书 14|直播 15|- 3"  # '-': unknown (empty)
NEW_SOURCES = "门店二维码 50|直播 20|小红书 15|朋友推荐 15"
FAVOURITES = "水果 12|外套 10|针织衫 7|羽绒服 5|连衣裙 5|零食 6|茶叶 4|坚果 4|乳品 3|- 44"
# independent tags: (tag, probability)
TAGS = (
    ("到店过", 0.25), ("上班族", 0.15), ("宝妈", 0.12), ("已加群", 0.10), ("看过直播", 0.09),
    ("问过价格", 0.08), ("生日12月", 0.08), ("价格敏感", 0.07), ("爱参加活动", 0.06), ("学生", 0.05),
    ("母婴", 0.04), ("不要打扰", 0.01),
)  # fmt: skip
PRICES = "39 6|59 8|69 6|99 12|128 8|159 6|199 10|259 5|299 8|399 7|499 5|599 4|899 3|1280 2|1580 2|2680 1"
MESSAGES = (
    "你好，想问下羊绒大衣有没有S码|今晚直播有羽绒服吗|草莓什么时候到|这个券能和店里的活动一起用吗|"
    "好久没去了，最近有什么新款？|车厘子还有吗|周末门店几点关门|上次买的针织衫起球了怎么办|"
    "能帮我留一件吗，明天去拿|快递到哪了|有没有适合送妈妈的|多少钱|在吗|好的谢谢|收到了，很喜欢❤️|"
    "发个链接给我|可以开发票吗|这个有优惠吗|尺码怎么选|预售什么时候截止"
).split("|")
REPLIES = "您好，在的～|我帮您查一下|有的，我发您实拍图～|好的，给您留好了|稍等哦".split("|")
NEW_TAGS = "问过价格 35|看过直播 30|水果 20|到店过 15"
HOURS = (0.5, 0.3, 0.15, 0.1, 0.1, 0.2, 0.6, 1.5, 2.5, 3, 3, 3.5, 4.5, 4, 3, 3, 3, 3.5, 4, 5, 6.5, 7, 5.5, 2.5)
STORE_HOURS = tuple(w if 10 <= h < 21 else w * 0.1 for h, w in enumerate(HOURS))
MOMENT_HOURS = tuple(w * (4 if h in (8, 9, 12, 13, 20, 21) else 1) for h, w in enumerate(HOURS))


def _weighted(spec: str) -> tuple[list[str], list[float]]:
    values, cum, total = [], [], 0.0
    for item in spec.split("|"):
        value, weight = item.rsplit(" ", 1)
        total += float(weight)
        values.append("" if value == "-" else value)
        cum.append(total)
    return values, cum


class Picker:
    """Weighted choice with precomputed cumulative weights (random.choices without its overhead)."""

    def __init__(self, values: Sequence[Any], cum: Sequence[float], rng: random.Random):
        self.values, self.cum, self.total, self.random = list(values), list(cum), cum[-1], rng.random

    @classmethod
    def of(cls, spec: str, rng: random.Random, cast: Any = str) -> Picker:
        values, cum = _weighted(spec)
        return cls([cast(v) for v in values], cum, rng)

    def __call__(self) -> Any:
        return self.values[bisect.bisect(self.cum, self.random() * self.total)]

    def many(self, k: int) -> list[Any]:
        values, cum, total, rnd = self.values, self.cum, self.total, self.random
        return [values[bisect.bisect(cum, rnd() * total)] for _ in range(k)]


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}:{part}")


# ---- times ------------------------------------------------------------------------------------------


class Clock:
    """ISO text (+08:00) of epoch seconds, fast: the date part is cached per day."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}
        self.minutes = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]

    def __call__(self, ts: int) -> str:
        local = ts + 8 * 3600
        day, sec = divmod(local, DAY)
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
        return f"{text}T{self.minutes[sec // 60]}:{sec % 60:02d}+08:00"


def _hour_picker(weights: Sequence[float], rng: random.Random) -> Picker:
    return Picker(range(24), list(itertools.accumulate(weights)), rng)


# ---- accounts and contacts --------------------------------------------------------------------------


def make_accounts(n_contacts: int, seed: int) -> list[dict[str, Any]]:
    rng = _rng(seed, "accounts")
    count = max(1, round(n_contacts / CONTACTS_PER_ACCOUNT))
    stores = [s.split(" ") for s in STORES.split("|")]
    width = max(4, len(str(count)))
    out = []
    for i in range(count):
        city, store = stores[i % len(stores)] if i < len(stores) else rng.choice(stores)
        out.append({
            "id": f"a{i + 1:0{width}d}",
            "name": rng.choice(STAFF),
            "store": store,
            "city": city,
            "weight": rng.uniform(0.6, 1.4),  # some accounts hold more contacts than others
        })  # fmt: skip
    return out


class Names:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.surname = Picker.of(SURNAMES, rng)

    def __call__(self) -> str:
        r = self.rng.random()
        if r < 0.06:
            return ""  # no name on record
        if r < 0.26:
            return self.rng.choice(NICKNAMES)
        given = self.rng.choice(GIVEN)
        if self.rng.random() < 0.72:  # most given names have two characters: 张子涵; the rest one: 张伟
            given += self.rng.choice(GIVEN)
        return self.surname() + given


def _account_picker(accounts: list[dict[str, Any]], rng: random.Random) -> Picker:
    return Picker(list(range(len(accounts))), list(itertools.accumulate(a["weight"] for a in accounts)), rng)


def _amount(price: Picker, rng: random.Random) -> float | int:
    total = price()
    while rng.random() < 0.25:  # a basket of several items
        total += price()
    if rng.random() < 0.2:  # a discount: 9折, 8.5折
        return round(total * rng.choice((0.9, 0.85, 0.8)), 1)
    return total


def _num(x: float | int) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def write_contacts(path: Path, n: int, accounts: list[dict[str, Any]], seed: int, clock: Clock) -> dict[str, Any]:
    """contacts.csv; returns facts the event stream needs (buyers, ids) and counts."""
    rng = _rng(seed, "contacts")
    rnd = rng.random
    names = Names(rng)
    account_of = _account_picker(accounts, rng)
    city = Picker.of(CITIES, rng)
    source = Picker.of(SOURCES, rng)
    favourite = Picker.of(FAVOURITES, rng)
    price = Picker.of(PRICES, rng, int)
    hour = _hour_picker(STORE_HOURS, rng)
    width = max(7, len(str(int(n * 1.2))))
    buyers: list[int] = []
    stats = {"bought": 0, "new_7d": 0, "svip_tag": 0, "spent_5000": 0, "fruit": 0, "no_name": 0}
    header = "id,name,account,tags,added_at,spent,orders,city,source,favourite,last_purchase_at,gender\n"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        lines: list[str] = []
        for i in range(n):
            acc = accounts[account_of()]
            # added_at: 3 % in the last 7 days (new customers), the rest over the past year,
            # more of them recent (the account has been growing)
            if rnd() < 0.03:
                days_ago = rng.randrange(7)
                stats["new_7d"] += 1
            else:
                days_ago = 7 + int(358 * rnd() ** 1.4)
            added = START_TS - (days_ago + 1) * DAY + hour() * 3600 + rng.randrange(3600)
            tenure = (START_TS - added) / DAY
            # buying: most never bought; the longer a contact has been with us, the likelier
            p_buy = 0.42 if tenure > 60 else 0.25 if tenure > 14 else 0.08
            spent = orders = last = None
            if rnd() < p_buy:
                orders = 1 + int(rng.expovariate(1 / 1.6))
                if rnd() < 0.01:
                    orders += rng.randrange(10, 60)  # a few regulars buy every week
                spent = sum(_amount(price, rng) for _ in range(min(orders, 40)))
                if orders > 40:
                    spent = spent * orders / 40
                spent = round(spent, 1)
                recency = tenure * rnd() ** (1 + 0.4 * orders)  # frequent buyers bought recently
                last = max(added + 3600, START_TS - int(recency * DAY) - rng.randrange(3600))
                buyers.append(i)
                stats["bought"] += 1
                stats["spent_5000"] += spent >= 5000
            fav = favourite()
            tags = [t for t, p in TAGS if rnd() < p]
            if fav == "水果" and rnd() < 0.7 or rnd() < 0.05:
                tags.append("水果")
            if spent is not None:
                if spent >= 8000 and rnd() < 0.8 or spent >= 3000 and rnd() < 0.1:
                    tags.append("SVIP")
                if orders >= 3 and rnd() < 0.6:
                    tags.append("老客")
                if orders >= 2 and rnd() < 0.7:
                    tags.append("复购")
                if spent / orders > 500 and rnd() < 0.5:
                    tags.append("高客单")
            elif rnd() < 0.002:
                tags.append("SVIP")  # tagged by hand, history elsewhere
            stats["svip_tag"] += "SVIP" in tags
            stats["fruit"] += "水果" in tags or fav == "水果"
            name = names()
            stats["no_name"] += not name
            c = acc["city"] if rnd() < 0.7 else city() if rnd() < 0.93 else ""
            g = "女" if (r := rnd()) < 0.68 else "男" if r < 0.93 else ""
            lines.append(
                f"c{i + 1:0{width}d},{name},{acc['id']},{';'.join(tags)},{clock(added)},"
                f"{'' if spent is None else _num(spent)},{'' if orders is None else orders},{c},{source()},{fav},"
                f"{'' if last is None else clock(last)},{g}\n"
            )
            if len(lines) >= 20000:
                fh.write("".join(lines))
                lines.clear()
        fh.write("".join(lines))
    return {"buyers": buyers, "width": width, "stats": stats}


# ---- events -----------------------------------------------------------------------------------------


class Stream:
    """Events as (time, seq, JSON line); `seq` keeps generation order among equal times."""

    def __init__(self, clock: Clock):
        self.items: list[tuple[int, int, str, str]] = []
        self.clock = clock
        self.seq = itertools.count()
        self.counts: dict[str, int] = {}

    def add(self, ts: int, kind: str, cid: str, extra: str = "") -> None:
        line = f'{{"type": "{kind}", "contact": "{cid}", "at": "{self.clock(ts)}"{extra}}}\n'
        self.items.append((ts, next(self.seq), cid, line))
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def write_events(path: Path, n: int, accounts: list[dict[str, Any]], facts: dict[str, Any], seed: int,
                 clock: Clock) -> dict[str, int]:  # fmt: skip
    rng = _rng(seed, "events")
    rnd = rng.random
    end = START_TS + HORIZON_DAYS * DAY
    stream = Stream(clock)
    width = facts["width"]
    buyers = facts["buyers"]
    hours = _hour_picker(HOURS, rng)
    store_hours = _hour_picker(STORE_HOURS, rng)
    moment_hours = _hour_picker(MOMENT_HOURS, rng)
    # busier weekends and a spike around 双12 (day 11 = Dec 12)
    day_weights = [
        (1.3 if (START + dt.timedelta(days=d)).weekday() >= 5 else 1.0) * (2.5 if d == 11 else 1.6 if d == 10 else 1)
        for d in range(HORIZON_DAYS)
    ]
    day = Picker(range(HORIZON_DAYS), list(itertools.accumulate(day_weights)), rng)
    account_of = _account_picker(accounts, rng)
    names = Names(rng)
    new_source = Picker.of(NEW_SOURCES, rng)
    price = Picker.of(PRICES, rng, int)
    new_tag = Picker.of(NEW_TAGS, rng)
    q_messages = [_q(m) for m in MESSAGES]
    q_replies = [_q(m) for m in REPLIES]
    cities = _weighted(CITIES)[0]
    deleted: dict[str, int] = {}

    def at(hour_picker: Picker) -> int:
        return START_TS + day() * DAY + hour_picker() * 3600 + rng.randrange(3600)

    def message(cid: str, ts: int) -> None:
        stream.add(ts, "message", cid, f', "text": {rng.choice(q_messages)}')
        if rnd() < 0.85:  # answered, in minutes during the day, the next morning at night
            h = (ts + 8 * 3600) % DAY // 3600
            delay = int(rng.expovariate(1 / 480)) + 30 if 9 <= h < 21 else (33 - h) % 24 * 3600 + rng.randrange(1800)
            if ts + delay < end:
                stream.add(ts + delay, "staff_message", cid, f', "text": {rng.choice(q_replies)}')

    def purchase(cid: str, ts: int) -> None:
        stream.add(ts, "purchase", cid, f', "amount": {_num(_amount(price, rng))}')

    # new friends: ~5 % of N over the month
    n_new = round(0.05 * n)
    for k in range(n_new):
        cid = f"c{n + k + 1:0{width}d}"
        acc = accounts[account_of()]
        src = new_source()
        added = at(store_hours if src == "门店二维码" else hours)
        if rnd() < 0.6:
            stream.add(max(START_TS, added - 60 - int(rng.expovariate(1 / 600))), "friend_request", cid,
                       f', "account": "{acc["id"]}", "source": "{src}"')  # fmt: skip
        name = names()
        stream.add(added, "friend_added", cid,
                   f', "account": "{acc["id"]}", ' + (f'"name": "{name}", ' if name else "") + f'"source": "{src}"')  # fmt: skip
        if rnd() < 0.45:  # new friends talk in their first days
            for _ in range(1 + int(rng.expovariate(1 / 0.8))):
                ts = added + 120 + int(rng.expovariate(1 / (1.5 * DAY)))
                if ts < end:
                    message(cid, ts)
        if rnd() < 0.12:
            ts = added + 3600 + int(rng.expovariate(1 / (4 * DAY)))
            if ts < end:
                purchase(cid, ts)
        if rnd() < 0.2:
            ts = added + 600 + int(rng.expovariate(1 / (2 * DAY)))
            if ts < end:
                stream.add(ts, "tag_added", cid, f', "tag": "{new_tag()}"')
        if rnd() < 0.2:
            ts = added + 3600 + int(rng.expovariate(1 / (3 * DAY)))
            if ts < end:
                stream.add(ts, "moment_interaction", cid, f', "kind": "{"like" if rnd() < 0.7 else "comment"}"')
        if rnd() < 0.03:  # removed us soon after adding
            deleted[cid] = added + 3600 + int(rng.expovariate(1 / (2 * DAY)))

    # existing contacts: buyers are likelier to write and to buy again
    def someone() -> int:
        return rng.choice(buyers) if buyers and rnd() < 0.5 else rng.randrange(n)

    def cid_of(i: int) -> str:
        return f"c{i + 1:0{width}d}"

    for _ in range(round(0.25 * n)):
        message(cid_of(someone()), at(hours))
    for _ in range(round(0.03 * n)):
        i = rng.choice(buyers) if buyers and rnd() < 0.6 else rng.randrange(n)
        purchase(cid_of(i), at(hours))
    for _ in range(round(0.04 * n)):
        stream.add(at(hours), "tag_added", cid_of(rng.randrange(n)), f', "tag": "{new_tag()}"')
    for _ in range(round(0.12 * n)):
        kind = "like" if rnd() < 0.7 else "comment"
        stream.add(at(moment_hours), "moment_interaction", cid_of(someone()), f', "kind": "{kind}"')
    for _ in range(round(0.002 * n)):
        stream.add(at(hours), "contact_updated", cid_of(rng.randrange(n)), f', "city": "{rng.choice(cities)}"')
    for _ in range(round(0.004 * n)):
        deleted.setdefault(cid_of(rng.randrange(n)), at(hours))

    for cid, ts in deleted.items():
        if ts < end:
            stream.add(ts, "deleted", cid)
    items = stream.items
    if deleted:  # nothing happens to a contact after it deleted us
        items = [e for e in items if e[2] not in deleted or e[0] <= deleted[e[2]]]
    items.sort()
    counts: dict[str, int] = {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        for start in range(0, len(items), 50000):
            chunk = items[start : start + 50000]
            fh.write("".join(e[3] for e in chunk))
    for e in items:
        kind = e[3][10 : e[3].index('"', 10)]
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


# ---- the whole population ---------------------------------------------------------------------------


def generate(directory: Path, n: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write accounts.csv, contacts.csv and events.jsonl into `directory`; return the meta."""
    t0 = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    accounts = make_accounts(n, seed)
    with (directory / "accounts.csv").open("w", encoding="utf-8", newline="") as fh:
        fh.write("id,name,store,city\n")
        fh.writelines(f"{a['id']},{a['name']},{a['store']},{a['city']}\n" for a in accounts)
    facts = write_contacts(directory / "contacts.csv", n, accounts, seed, clock)
    events = write_events(directory / "events.jsonl", n, accounts, facts, seed, clock)
    meta = {
        "version": VERSION,
        "contacts": n,
        "seed": seed,
        "accounts": len(accounts),
        "start": START.isoformat(),
        "days": HORIZON_DAYS,
        "contact_stats": facts["stats"],
        "events": events,
        "events_total": sum(events.values()),
        "bytes": {name: (directory / name).stat().st_size for name in ("accounts.csv", "contacts.csv", "events.jsonl")},
        "seconds": round(time.perf_counter() - t0, 2),
    }
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return meta


def cache_dir(n: int, seed: int = DEFAULT_SEED) -> Path:
    return OUT / f"n{n}-s{seed}-v{VERSION}"


def ensure(n: int, seed: int = DEFAULT_SEED, force: bool = False) -> tuple[Path, dict[str, Any]]:
    """The cached population for (n, seed), generated when missing (or with force)."""
    directory = cache_dir(n, seed)
    meta_path = directory / "meta.json"
    if meta_path.exists() and not force:
        return directory, json.loads(meta_path.read_text(encoding="utf-8"))
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    meta = generate(partial, n, seed)
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory, meta


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("contacts", type=int, help="how many contacts (N)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, help="write here instead of the cache under bench/out/population/")
    ap.add_argument("--force", action="store_true", help="generate again even when cached")
    args = ap.parse_args(argv)
    if args.contacts < 1:
        ap.error("N must be at least 1")
    if args.out:
        directory, meta = args.out, generate(args.out, args.contacts, args.seed)
    else:
        directory, meta = ensure(args.contacts, args.seed, args.force)
    print(directory)
    print(json.dumps(meta, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
