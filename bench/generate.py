"""A deterministic generator of a large, realistic playbook and its YAML twin.

One seeded random model of the definitions (segments, contents, journeys, groups,
Moments calendars, rotations, SLAs and the settings) is rendered twice:

- as playbook source (`.pb`), in sections per store and campaign, the way an operations
  team's big file grows;
- as YAML in the shape SCRM tools and peers use: a mapping per kind, expressions as
  nested mappings (`all` / `any` / `not` / `{field, op, value}`), journey steps as a list
  of mappings. The YAML document *is* the model, so `yaml.safe_load` of it gives back
  exactly the model: the two renderings carry the same information.

    from bench.generate import generate
    g = generate()            # about 5,000 lines, seed DEFAULT_SEED
    g.playbook, g.yaml, g.model

`python bench/generate.py [--lines N] [--seed S] [--out DIR]` writes large.pb and
large.yaml and checks that the playbook compiles without errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SEED = 20261212
DEFAULT_LINES = 5000

Expr = dict[str, Any]
Step = dict[str, Any]

# ---- vocabulary ------------------------------------------------------------------------------

STORES = [
    "上海静安店", "杭州湖滨店", "南京新街口店", "苏州观前店", "北京三里屯店", "成都太古里店",
    "深圳万象城店", "广州天河店", "武汉江汉路店", "西安钟楼店", "天猫旗舰店", "抖音直播间",
    "小程序商城", "Shanghai_Flagship", "HK_Harbour", "Online_Mall",
]  # fmt: skip
CAMPAIGNS = [
    ("秋冬上新", "new_in"), ("双11", "d11"), ("双12", "d12"), ("年货节", "cny"), ("女神节", "w38"),
    ("年中618", "m618"), ("会员日", "member_day"), ("周年庆", "anniv"), ("开学季", "school"),
    ("七夕", "qixi"), ("中秋", "mid_autumn"), ("夏日清凉", "summer"),
]  # fmt: skip
CITIES = ["上海", "杭州", "南京", "苏州", "北京", "成都", "深圳", "广州", "武汉", "西安", "宁波", "无锡"]
LEVELS = ["普卡", "银卡", "金卡", "黑金"]
SOURCES = ["门店二维码", "直播间", "小程序", "朋友推荐", "企微活码", "包裹卡", "公众号"]
TAGS = [
    "问过价格", "看过直播", "宝妈", "学生党", "白领", "敏感肌", "老客推荐", "活跃", "沉默", "投诉过",
    "勿扰", "爱折扣", "高客单", "SVIP", "VIP", "KOC", "团长", "早鸟", "已领券", "已进群",
]  # fmt: skip
SEGMENT_STEMS = [
    "新客", "已购", "老客", "复购", "沉睡", "流失预警", "高意向", "高客单", "华东", "华南", "宝妈", "学生党",
    "白领", "会员", "积分达人", "直播粉", "门店客", "小程序客", "生日月", "VIP候选", "svip", "koc", "early_bird",
    "big_spender", "lapsed", "vip_candidates",
]  # fmt: skip
CONTENT_STEMS = [
    "欢迎语", "品牌故事", "新品速递", "搭配技巧", "新客券", "老客关怀", "复购提醒", "会员权益", "生日祝福",
    "积分提醒", "直播预告", "开群欢迎", "预售介绍", "限时提醒", "感谢告别", "早安", "买家秀", "周末福利",
    "welcome", "lookbook", "coupon", "restock", "survey", "care_tips", "vip_invite", "flash_sale",
]  # fmt: skip
JOURNEY_STEMS = [
    "新客培育", "复购唤醒", "沉睡召回", "会员升级", "生日关怀", "直播转化", "预售提醒", "售后关怀", "积分兑换",
    "进群转化", "老带新", "onboarding", "win_back", "vip_upgrade", "post_purchase", "nurture",
]  # fmt: skip
GROUP_STEMS = ["预售群", "快闪群", "福利群", "直播群", "新品体验群", "flash_group", "vip_lounge"]
MOMENTS_STEMS = ["日常朋友圈", "大促朋友圈", "新品朋友圈", "daily_moments"]
ROTATE_STEMS = ["朋友圈互动", "SVIP回访", "生日回访", "老客回访", "koc_care"]
SLA_STEMS = ["好友通过", "及时回复", "大促回复", "fast_reply"]
CUSTOM_EVENTS = ["coupon_redeemed", "live_watched", "form_submitted", "review_posted", "直播下单"]
TIMES = ["08:30", "09:00", "09:30", "10:00", "11:00", "12:00", "12:30", "14:00", "15:00", "16:00", "18:00",
         "19:00", "19:30", "20:00", "20:30", "21:00"]  # fmt: skip
PRODUCTS = ["羊绒大衣", "真丝衬衫", "保湿精华", "运动套装", "羽绒服", "连衣裙", "牛仔裤", "香氛礼盒", "茶礼", "护手霜"]

OPENERS = [
    "{name|亲}您好，我是您的专属顾问{account.name}。",
    "{name|亲}，好久不见～",
    "Hi {name|亲}，{account.name}又来啦！",
    "{name}您好，{camp}马上开始了。",
    "亲爱的{name|会员}，感谢一直以来的支持。",
    "{name|亲}，您在{city|附近}的门店有新消息。",
]
BODIES = [
    "{camp}期间{product}限时优惠，老客再享9折。",
    "本周新到的{product}很适合这个季节，需要的话我帮您留一件。",
    "您的积分还有{points|不少}分，可以兑换{product}小样。",
    "入冬三套通勤搭配，照着穿不出错。",
    "{camp}专属券已经放到您的账户，7天内有效。",
    "直播间今晚8点开播，{product}会有秒杀价。",
    "门店新品、搭配建议都可以随时问我。",
    "上次您问的{product}补货了，库存不多。",
    "给您准备了一份小礼物，到店就能领。",
]
CLOSERS = [
    "有任何问题随时找我～",
    "回复1我帮您预留。",
    "祝您生活愉快！",
    "点开链接就能看到详情。",
    "期待您的反馈❤️",
    "早安☀️ 今天也要元气满满。",
]
TASK_TEXTS = [
    "客户{name}加好友{days}天未互动，请主动聊一聊",
    "给{name}打个电话，问问{product}穿着怎么样",
    "{name}是高意向客户，今天内跟进一次并记录需求",
    "SVIP客户{name}还没下单，请电话问候一次",
    "提醒{name}积分即将过期，顺便推荐{product}",
    "给{name}的朋友圈点赞并认真评论一次",
    "确认{name}的尺码和喜好，更新到客户资料",
]
PURCHASE_TASKS = [
    "{name}刚下单{event.amount}元，请发一句感谢并确认收货地址",
    "{name}买了{event.amount|一单}，3天后回访使用感受",
]


# ---- the model ---------------------------------------------------------------------------------


@dataclass
class Generated:
    """A generated playbook: the model, its `.pb` source and its YAML rendering."""

    model: dict[str, Any]
    playbook: str
    yaml: str
    seed: int

    @property
    def lines(self) -> int:
        return self.playbook.count("\n")

    @property
    def yaml_lines(self) -> int:
        return self.yaml.count("\n")

    def counts(self) -> dict[str, int]:
        return {kind: len(self.model[kind]) for kind in KINDS}


KINDS = ("segments", "contents", "journeys", "groups", "moments", "rotations", "slas")


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.model: dict[str, Any] = {
            "playbook": {},
            **{kind: {} for kind in KINDS},
        }
        self.sections: list[tuple[str, list[tuple[str, str]]]] = []
        self.names: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.safe_contents: list[str] = []  # contents without event placeholders
        self.base_segments: list[str] = []
        self.section_items: list[tuple[str, str]] = []
        self.camp = ""
        self.camp_ascii = ""

    # ---- helpers ------------------------------------------------------------------------------
    def pick(self, seq: list[Any]) -> Any:
        return seq[self.r.randrange(len(seq))]

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def unique(self, kind: str, stem: str) -> str:
        used = self.names[kind]
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}_{n}"
        used.add(name)
        return name

    def add(self, kind: str, name: str, value: dict[str, Any]) -> None:
        self.model[kind][name] = value
        self.section_items.append((kind, name))

    def segment_ref(self) -> str:
        return self.pick(list(self.model["segments"]))

    def fill(self, text: str) -> str:
        return (
            text.replace("{camp}", self.camp)
            .replace("{product}", self.pick(PRODUCTS))
            .replace("{days}", str(self.r.randint(2, 7)))
        )

    # ---- settings -----------------------------------------------------------------------------
    def settings(self) -> None:
        self.model["playbook"] = {
            "title": "全渠道私域运营总表",
            "timezone": "Asia/Shanghai",
            "quiet": "22:00-08:00",
            "limits": [
                {"channel": "dm", "count": 1, "per": "contact", "period": "day"},
                {"channel": "dm", "count": 3, "per": "contact", "period": "week"},
                {"channel": "moment", "count": 3, "per": "account", "period": "day"},
                {"channel": "group", "count": 2, "per": "contact", "period": "day", "else": "skip"},
                {"channel": "task", "count": 80, "per": "account", "period": "day", "else": "skip"},
            ],
        }

    # ---- expressions --------------------------------------------------------------------------
    def atom(self, *, events: str | None = None) -> Expr:
        r = self.r.random()
        if events and r < 0.25:
            return self.event_condition(events)
        choices = [
            lambda: {"field": "spent", "op": self.pick([">=", ">", "<"]), "value": self.pick([500, 1000, 3000, 5000])},
            lambda: {"field": "orders", "op": self.pick([">=", "=="]), "value": self.r.randint(1, 5)},
            lambda: {"field": "points", "op": ">", "value": self.pick([100, 800, 2000])},
            lambda: {"field": "city", "in": self.r.sample(CITIES, self.r.randint(2, 4))},
            lambda: {"field": "level", "not_in": self.r.sample(LEVELS, 2)},
            lambda: {"field": "level", "op": "==", "value": self.pick(LEVELS)},
            lambda: {"field": "source", "op": "==", "value": self.pick(SOURCES)},
            lambda: {"field": "added_at", "within": self.pick(["3d", "7d", "14d", "30d"])},
            lambda: {"field": "last_purchase_at", "within": self.pick(["30d", "60d", "90d", "1w"])},
            lambda: {"field": "last_active_at", "within": self.pick(["7d", "14d"])},
            lambda: {"field": "birthday", "is_set": self.chance(0.7)},
            lambda: {"field": "first_order_at", "op": ">=", "value": dt.date(2026, self.r.randint(1, 9), 1)},
            lambda: {"field": "is_member", "op": "==", "value": self.chance(0.8)},
            lambda: {"field": "age", "op": self.pick(["<", ">="]), "value": self.pick([25, 30, 35, 40])},
            lambda: {"field": "rating", "op": ">=", "value": self.pick([4.5, 4.8])},
            lambda: {"tag": self.pick(TAGS)},
            lambda: {"tag": self.pick(TAGS)},
        ]
        if self.model["segments"]:
            choices += [lambda: {"segment": self.segment_ref()}] * 4
        return self.pick(choices)()

    def expr(self, depth: int = 0, *, events: str | None = None) -> Expr:
        r = self.r.random()
        if depth >= 2 or r < 0.35:
            return self.atom(events=events)
        if r < 0.65:
            return {"all": [self.expr(depth + 1, events=events) for _ in range(self.r.randint(2, 3))]}
        if r < 0.9:
            return {"any": [self.expr(depth + 1, events=events) for _ in range(self.r.randint(2, 3))]}
        inner = self.expr(depth + 1, events=events)
        return inner["not"] if "not" in inner else {"not": inner}

    def event_condition(self, event: str) -> Expr:
        if event == "purchase":
            return {"field": "event.amount", "op": ">=", "value": self.pick([99, 199, 300, 500, 1000])}
        if event in ("friend_added", "friend_request"):
            if self.chance(0.5):
                return {"field": "event.source", "op": "==", "value": self.pick(SOURCES)}
            return {"field": "event.source", "in": self.r.sample(SOURCES, 2)}
        if event in ("tag_added", "tag_removed"):
            return {"field": "event.tag", "op": "==", "value": self.pick(TAGS)}
        if event == "message":
            return {"field": "event.text", "op": "!=", "value": ""}
        return {"field": "event.channel", "op": "==", "value": self.pick(["live", "mini", "store"])}

    # ---- segments ------------------------------------------------------------------------------
    def base(self) -> None:
        """The spec's own segments, first, so later ones can build on them."""
        for name, e in [
            ("新客", {"field": "added_at", "within": "7d"}),
            ("已购", {"field": "orders", "op": ">=", "value": 1}),
            ("老客", {"all": [{"segment": "已购"}, {"not": {"segment": "新客"}}]}),
            ("SVIP", {"any": [{"field": "spent", "op": ">=", "value": 5000}, {"tag": "SVIP"}]}),
            ("沉睡", {"all": [{"segment": "已购"}, {"not": {"field": "last_purchase_at", "within": "60d"}}]}),
            ("华东", {"field": "city", "in": ["上海", "杭州", "南京"]}),
            ("不打扰", {"any": [{"tag": "勿扰"}, {"tag": "投诉过"}]}),
        ]:
            self.names["segments"].add(name)
            self.add("segments", name, e)
            self.base_segments.append(name)

    def segment(self) -> str:
        name = self.unique("segments", self.pick(SEGMENT_STEMS))
        self.add("segments", name, self.expr())
        return name

    # ---- contents --------------------------------------------------------------------------------
    def content(self, *, event: str | None = None, reuse: float = 0.3) -> str:
        """A content to send: sometimes one already defined, usually a new one."""
        if self.safe_contents and self.chance(reuse):
            return self.pick(self.safe_contents)
        name = self.unique("contents", self.pick(CONTENT_STEMS))
        body = self.fill(self.pick(BODIES))
        with_event = event == "purchase" and self.chance(0.3)
        if with_event:
            body = "感谢您的订单（{event.amount}元），" + body
        style = self.r.random()
        c: dict[str, Any]
        if style < 0.38:
            c = {"text": self.fill(self.pick(OPENERS)) + body}
        elif style < 0.72:
            lines = [self.fill(self.pick(OPENERS)), body]
            lines += [self.fill(self.pick(BODIES)) for _ in range(self.r.randint(0, 2))]
            if self.chance(0.3):
                lines.append("  · " + self.fill(self.pick(BODIES)))
                lines.append("  · " + self.fill(self.pick(BODIES)))
            lines.append(self.pick(CLOSERS))
            c = {"text": "\n".join(lines)}
            if self.chance(0.5):
                c["images"] = [
                    f"assets/{self.camp_ascii}_{self.r.randint(1, 99):02d}.jpg" for _ in range(self.r.randint(1, 3))
                ]
        elif style < 0.88:
            c = {"text": self.fill(self.pick(OPENERS)) + body}
            slug = f"{self.camp_ascii}/{self.r.randint(100, 999)}"
            c["link"] = f"https://example.com/{slug}"
            c["title"] = f"{self.camp}·{self.pick(PRODUCTS)}"
            if self.chance(0.5):
                c["desc"] = self.fill(self.pick(BODIES))
        elif style < 0.95:
            c = {
                "text": body,
                "miniprogram": "wx8d2f0c1a9b3e4d5f",
                "page": f"pages/{self.camp_ascii}/index?from=dm",
                "title": f"{self.camp}会场",
            }
        else:
            c = {"text": body, self.pick(["video", "file"]): f"assets/{self.camp_ascii}_{self.r.randint(1, 9)}.mp4"}
        self.add("contents", name, c)
        if not with_event:
            self.safe_contents.append(name)
        return name

    def task_text(self, event: str | None) -> str:
        if event == "purchase" and self.chance(0.4):
            return self.pick(PURCHASE_TASKS)
        return self.fill(self.pick(TASK_TEXTS))

    # ---- schedules -------------------------------------------------------------------------------
    def schedule(self, *, interval: bool = True) -> dict[str, Any]:
        r = self.r.random()
        if r < 0.25:
            return {"every": "day", "at": sorted(self.r.sample(TIMES, self.r.randint(1, 2)))}
        if r < 0.4:
            return {"every": self.pick(["weekday", "weekend"]), "at": [self.pick(TIMES)]}
        if r < 0.6:
            days = self.pick([["mon", "wed", "fri"], ["tue", "thu"], ["mon-fri"], ["sat", "sun"], ["mon-wed", "sat"]])
            return {"every": days, "at": [self.pick(TIMES)]}
        if r < 0.75:
            return {
                "every": "month",
                "days": sorted(self.r.sample([1, 5, 10, 15, 20, 25, 28], 2)),
                "at": [self.pick(TIMES)],
            }
        if r < 0.87 and interval:
            s: dict[str, Any] = {"interval": self.pick(["2h", "3h", "90m", "4h"])}
            if self.chance(0.7):
                s["between"] = "09:00-21:00"
            return s
        return {"cron": self.pick(["0 10 * * 1-5", "30 20 * * 5", "0 12 1,15 * *", "0 9 * * 6,0"])}

    # ---- journeys ------------------------------------------------------------------------------------
    def journey(self) -> str:
        name = self.unique(
            "journeys",
            self.pick([f"{self.camp}{self.pick(JOURNEY_STEMS)}", f"{self.camp_ascii}_{self.pick(JOURNEY_STEMS)}"]),
        )
        j: dict[str, Any] = {}
        r = self.r.random()
        event: str | None = None
        if r < 0.45:
            event = self.pick(
                [
                    "friend_added",
                    "friend_added",
                    "purchase",
                    "tag_added",
                    "message",
                    "joined_group",
                    self.pick(CUSTOM_EVENTS),
                ]
            )
            entry: dict[str, Any] = {"trigger": event}
            if self.chance(0.6):
                entry["where"] = self.event_condition(event)
        elif r < 0.7:
            entry = {"enter": self.segment_ref()}
        elif r < 0.85:
            entry = {"every": self.schedule(), "for": self.segment_ref()}
        else:
            entry = {
                "at": dt.datetime(2026, self.r.randint(1, 12), self.r.randint(1, 28), self.r.choice([9, 10, 20])),
                "for": self.segment_ref(),
            }
        j["entry"] = entry
        exits: list[dict[str, Any]] = []
        for _ in range(self.r.randint(0, 2)):
            if self.chance(0.6):
                ex: dict[str, Any] = {"event": self.pick(["purchase", "purchase", "deleted", "message"])}
                if ex["event"] == "purchase" and self.chance(0.3):
                    ex["where"] = self.event_condition("purchase")
            else:
                ex = {"when": self.expr(1)}
            exits.append(ex)
        if exits:
            j["exits"] = exits
        if self.chance(0.4):
            j["reenter_after"] = self.pick(["30d", "60d", "90d", "12w"])
        with_split = self.chance(0.3)
        if with_split or self.chance(0.6):
            goal: dict[str, Any] = {"event": self.pick(["purchase", "purchase", "joined_group", "message"])}
            if goal["event"] == "purchase" and self.chance(0.3):
                goal["where"] = self.event_condition("purchase")
            goal["within"] = self.pick(["7d", "14d", "30d"])
            j["goal"] = goal
        if self.chance(0.5):
            j["priority"] = self.pick([-5, 0, 5, 10, 15, 20, 30])
        j["steps"] = self.journey_steps(event if "trigger" in entry else None, with_split)
        self.add("journeys", name, j)
        return name

    def journey_steps(self, event: str | None, with_split: bool) -> list[Step]:
        steps: list[Step] = []
        first: Step = {"after": self.pick(["5m", "10m", "1h", "1h30m"])} if event else {}
        first["dm"] = self.content(event=event)
        steps.append(first)
        # The spam lint allows 3 messages in the first 3 days on any path: keep 2 more for then.
        budget = 2
        day = earliest = 0  # the last day number written; the earliest day this step can run
        for k in range(self.r.randint(4, 9)):
            step: Step = {}
            day += self.r.randint(1, 3)
            if self.chance(0.8):
                step.update({"day": day, "at": self.pick(TIMES)})
                earliest = day
            elif k:
                step["at"] = self.pick(TIMES)
            dms = 3 if earliest >= 3 else min(budget, 1)
            kind = self.r.random()
            if with_split and k == 2:
                step.update(self.split(event, dms=dms))
            elif kind < 0.3 and dms:
                step["dm"] = self.content(event=event)
            elif kind < 0.5 and dms:
                step.update(self.if_step(event, depth=0, dms=dms))
            elif kind < 0.65:
                step.update(self.wait(event, dms=dms))
            elif kind < 0.75:
                step["task"] = self.task_text(event)
            elif kind < 0.85 and self.model["groups"]:
                step["invite"] = self.pick(list(self.model["groups"]))
            else:
                step[self.pick(["tag_add", "tag_add", "tag_remove"])] = self.pick(TAGS)
            if earliest < 3:
                budget -= min(dms, 1)
            steps.append(step)
            if self.chance(0.3):
                steps.append({"tag_add": self.pick(TAGS)} if self.chance(0.6) else {"task": self.task_text(event)})
        if self.chance(0.5):
            steps.append({"tag_add": f"{self.camp}完成"})
        return steps

    def branch(self, event: str | None, *, depth: int, dms: int, allow_exit: bool = True) -> list[Step]:
        out: list[Step] = []
        for _ in range(self.r.randint(1, 3)):
            r = self.r.random()
            if r < 0.45 and dms > 0 and not (out and "dm" in out[-1]):
                step: Step = {"after": self.pick(["2h", "1d"])} if out and self.chance(0.4) else {}
                step["dm"] = self.content(event=event)
                dms -= 1
            elif r < 0.6 and depth < 1 and dms > 0:
                step = self.if_step(event, depth=depth + 1, dms=1)
                dms -= 1
            elif r < 0.8:
                step = {"task": self.task_text(event)}
            else:
                step = {self.pick(["tag_add", "tag_remove"]): self.pick(TAGS)}
            out.append(step)
        if allow_exit and self.chance(0.1):
            out.append({"exit": True})
        return out

    def if_step(self, event: str | None, *, depth: int, dms: int) -> Step:
        step: Step = {"if": self.expr(1, events=event), "then": self.branch(event, depth=depth, dms=dms)}
        r = self.r.random()
        if r < 0.2 and depth == 0:
            step["else"] = [self.if_step(event, depth=1, dms=dms)]  # rendered as `else if`
        elif r < 0.8:
            step["else"] = self.branch(event, depth=depth, dms=dms)
        return step

    def split(self, event: str | None, *, dms: int) -> Step:
        weights = self.pick([[50, 50], [30, 70], [34, 33, 33], [25, 25, 50], [20, 30, 50]])
        return {
            "split": [{"weight": w, "steps": self.branch(event, depth=1, dms=dms, allow_exit=False)} for w in weights]
        }

    def wait(self, event: str | None, *, dms: int) -> Step:
        waited = self.pick(
            ["message", "message", "purchase", "joined_group", "moment_interaction", self.pick(CUSTOM_EVENTS)]
        )
        step: Step = {"wait_for": waited}
        if self.chance(0.25):
            step["where"] = self.event_condition(waited)
        step["up_to"] = self.pick(["1d", "2d", "12h", "3d"])
        if self.chance(0.85):
            step["then"] = self.branch(event, depth=1, dms=dms)
        if self.chance(0.8) or "then" not in step:
            step["else"] = self.branch(event, depth=1, dms=0 if dms <= 1 else dms)
        return step

    # ---- groups, Moments, rotations, SLAs ---------------------------------------------------------------
    def group(self) -> str:
        name = self.unique("groups", f"{self.camp}{self.pick(GROUP_STEMS)}")
        g: dict[str, Any] = {"title": f"{self.camp}·{{account.name}}"}
        if self.chance(0.8):
            g["members"] = self.expr(1)
        if self.chance(0.7):
            g["opens"] = dt.datetime(2026, self.r.randint(1, 12), self.r.randint(1, 28), self.pick([10, 19, 20]))
        else:
            g["opens"] = {"every": [self.pick(["fri", "sat"])], "at": ["19:00"]}
        lasts = self.r.randint(2, 5)
        g["lasts"] = f"{lasts}d"
        if self.chance(0.7):
            g["size"] = self.pick([100, 200, 300, 500])
        g["invite"] = self.content(reuse=0)
        posts: list[Step] = []
        for day in sorted(self.r.sample(range(lasts), self.r.randint(2, min(lasts, 4)))):
            posts.append({"day": day, "at": self.pick(TIMES), "post": self.content(reuse=0)})
            if self.chance(0.3):
                posts.append({"after": "1h", "task": f"在{self.camp}群里回答大家的问题，统计意向"})
        g["posts"] = posts
        g["closing"] = [{"post": self.content(reuse=0)}]
        if self.chance(0.3):
            g["closing"].append({"task": "导出群内意向客户名单，转给门店跟进"})
        self.add("groups", name, g)
        return name

    def moments(self) -> str:
        name = self.unique("moments", self.pick(MOMENTS_STEMS))
        rules: list[dict[str, Any]] = [{"schedule": {"every": "day", "at": ["08:30"]}, "post": self.content()}]
        # At most one weekly rule per weekday, and one dated post: never more than 3 a day.
        for days in self.pick([[["mon", "wed", "fri"], ["tue", "thu"]], [["mon-fri"]], [["sat", "sun"], ["tue"]]]):
            rule: dict[str, Any] = {
                "schedule": {"every": days, "at": [self.pick(["12:00", "20:00"])]},
                "post": self.content(),
            }
            if self.chance(0.5):
                rule["visible_to"] = self.expr(1)
            rules.append(rule)
        if self.chance(0.5):
            rules.append(
                {"at": dt.datetime(2026, self.r.randint(1, 12), self.r.randint(1, 28), 21, 0), "post": self.content()}
            )
        elif self.chance(0.5):
            rules.append({"schedule": {"cron": "0 18 * * 6"}, "post": self.content()})
        self.add("moments", name, {"rules": rules})
        return name

    def rotation(self) -> str:
        name = self.unique("rotations", self.pick(ROTATE_STEMS))
        rot: dict[str, Any] = {}
        if self.chance(0.7):
            rot["members"] = self.expr(1)
        rot["each_contact_every"] = self.pick(["14d", "30d", "60d"])
        order = self.pick(["name", "spent", "added_at", None])
        if order:
            rot["order_by"] = order
            if order != "name" and self.chance(0.6):
                rot["descending"] = True
        rot["at"] = self.pick(TIMES)
        if self.chance(0.7):
            rot["weekdays"] = self.pick([["mon-fri"], ["mon", "wed", "fri"], ["sat", "sun"]])
        rot["task"] = self.fill(self.pick(TASK_TEXTS))
        self.add("rotations", name, rot)
        return name

    def sla(self) -> str:
        name = self.unique("slas", self.pick(SLA_STEMS))
        trigger, answer = self.pick([("friend_request", "friend_added"), ("message", "staff_message")])
        s: dict[str, Any] = {"trigger": trigger, "answered_by": answer, "within": self.pick(["5m", "10m", "30m", "1h"])}
        if self.chance(0.7):
            s["during"] = self.pick(["09:00-21:00", "09:00-22:00", "10:00-20:00"])
        self.add("slas", name, s)
        return name

    # ---- sections --------------------------------------------------------------------------------------
    def section(self, index: int) -> None:
        store = STORES[index % len(STORES)]
        self.camp, self.camp_ascii = CAMPAIGNS[(index * 5) % len(CAMPAIGNS)]
        self.section_items = []
        if index == 0:
            self.base()
        for _ in range(self.r.randint(3, 6)):
            self.segment()
        if self.chance(0.45):
            self.group()
        for _ in range(self.r.randint(2, 4)):
            self.journey()
        if self.chance(0.3):
            self.moments()
        if self.chance(0.3):
            self.rotation()
        if self.chance(0.2) or index == 0:
            self.sla()
        self.sections.append((f"{store} · {self.camp}", self.section_items))


def _section_lines(model: dict[str, Any], title: str, items: list[tuple[str, str]]) -> list[str]:
    """A section of the playbook: its segments, contents, then everything else in order."""
    out = [f"# ==== {title} " + "=" * 20, ""]
    order = {"segments": 0, "contents": 1}
    previous = ""
    for kind, name in sorted(items, key=lambda item: order.get(item[0], 2)):
        if previous == "segments" and kind != "segments":
            out.append("")
        out += RENDER[kind](name, model[kind][name])
        if kind != "segments":
            out.append("")
        previous = kind
    if out[-1] != "":
        out.append("")
    return out


def generate(target_lines: int = DEFAULT_LINES, seed: int = DEFAULT_SEED) -> Generated:
    """A playbook of about `target_lines` lines (a little more: whole sections only)."""
    g = _Gen(seed)
    g.settings()
    header = _settings_lines(g.model["playbook"])
    total = len(header)
    index = 0
    while total < target_lines:
        g.section(index)
        total += len(_section_lines(g.model, *g.sections[-1]))
        index += 1
    lines = list(header)
    for title, items in g.sections:
        lines += _section_lines(g.model, title, items)
    text = "\n".join(lines).rstrip("\n") + "\n"
    return Generated(model=g.model, playbook=text, yaml=render_yaml(g.model), seed=seed)


# ---- rendering: playbook ---------------------------------------------------------------------------


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int | float):
        return str(v)
    return _q(v)


def expr_pb(e: Expr, context: int = 0) -> str:
    """An expression in playbook syntax; precedence or < and < not < atom."""
    if "any" in e:
        text, prec = " or ".join(expr_pb(x, 1) for x in e["any"]), 1
    elif "all" in e:
        text, prec = " and ".join(expr_pb(x, 2) for x in e["all"]), 2
    elif "not" in e:
        text, prec = "not " + expr_pb(e["not"], 3), 3
    else:
        text, prec = _atom_pb(e), 4
    return f"({text})" if prec < context else text


def _atom_pb(e: Expr) -> str:
    if "tag" in e:
        return f"tag {_q(e['tag'])}"
    if "segment" in e:
        return f"in {e['segment']}"
    f = e["field"]
    if "op" in e:
        return f"{f} {e['op']} {_value(e['value'])}"
    if "in" in e:
        return f"{f} in [{', '.join(_value(v) for v in e['in'])}]"
    if "not_in" in e:
        return f"{f} not in [{', '.join(_value(v) for v in e['not_in'])}]"
    if "within" in e:
        return f"{f} within {e['within']}"
    return f"{f} is set" if e["is_set"] else f"{f} is not set"


def schedule_pb(s: dict[str, Any]) -> str:
    if "cron" in s:
        return f"cron {_q(s['cron'])}"
    if "interval" in s:
        return f"every {s['interval']}" + (f" between {s['between']}" if "between" in s else "")
    at = "at " + ", ".join(s["at"])
    every = s["every"]
    if every == "month":
        return f"every month on {', '.join(str(d) for d in s['days'])} {at}"
    if isinstance(every, list):
        every = ", ".join(every)
    return f"every {every} {at}"


def _settings_lines(p: dict[str, Any]) -> list[str]:
    out = [
        f"playbook {_q(p['title'])}",
        "# 生成的基准剧本（bench/generate.py）：多门店、多活动的私域运营总表。",
        f"timezone {_q(p['timezone'])}",
        f"quiet {p['quiet']}",
    ]
    for lim in p["limits"]:
        tail = f" else {lim['else']}" if "else" in lim else ""
        out.append(f"limit {lim['channel']} {lim['count']} per {lim['per']} per {lim['period']}{tail}")
    return out + [""]


def _segment_pb(name: str, e: Expr) -> list[str]:
    return [f"segment {name} = {expr_pb(e)}"]


_PART_ORDER = ("text", "images", "link", "title", "desc", "miniprogram", "page", "video", "file")


def _content_pb(name: str, c: dict[str, Any]) -> list[str]:
    parts: list[tuple[str, str]] = []
    for key in _PART_ORDER:
        if key == "images":
            parts += [("image", img) for img in c.get("images", [])]
        elif key in c:
            parts.append((key, c[key]))
    multiline = any("\n" in v for _, v in parts)
    if len(parts) == 1 and parts[0][0] == "text" and not multiline:
        return [f"content {name} = {_q(parts[0][1])}"]
    one_line = f"content {name} {{ " + " ".join(f"{k} {_q(v)}" for k, v in parts) + " }"
    if not multiline and len(one_line) <= 120:
        return [one_line]
    out = [f"content {name} {{"]
    for key, value in parts:
        if "\n" in value:
            out.append(f'  {key} """')
            out += [("    " + line) if line else "" for line in value.split("\n")]
            out.append('    """')
        else:
            out.append(f"  {key} {_q(value)}")
    return out + ["}"]


def _timing_pb(step: Step) -> str:
    if "after" in step:
        return f"after {step['after']}: "
    if "day" in step:
        return f"day {step['day']} at {step['at']}: "
    if "at" in step:
        return f"at {step['at']}: "
    return ""


def _simple_pb(step: Step) -> str | None:
    """A one-line action, or None for control steps."""
    if "dm" in step:
        return f"dm {step['dm']}"
    if "post" in step:
        return f"post {step['post']}"
    if "task" in step:
        return f"task {_q(step['task'])}"
    if "tag_add" in step:
        return f"tag add {_q(step['tag_add'])}"
    if "tag_remove" in step:
        return f"tag remove {_q(step['tag_remove'])}"
    if "invite" in step:
        return f"invite {step['invite']}"
    if "exit" in step:
        return "exit"
    return None


def _inline_block(steps: list[Step]) -> str | None:
    if len(steps) == 1 and not _timing_pb(steps[0]) and _simple_pb(steps[0]) is not None:
        return "{ " + _simple_pb(steps[0]) + " }"  # type: ignore[operator]
    return None


def _block_pb(opening: str, steps: list[Step], indent: int) -> list[str]:
    """`opening {` … `}` (the caller appends to the last line)."""
    pad = " " * indent
    inline = _inline_block(steps)
    if inline and len(pad + opening + inline) <= 110:
        return [pad + opening + inline]
    out = [pad + opening + "{"]
    for s in steps:
        out += step_pb(s, indent + 2)
    return out + [pad + "}"]


def _if_pb(step: Step, indent: int) -> list[str]:
    pad = " " * indent
    head = f"if {expr_pb(step['if'])} "
    then, other = step["then"], step.get("else")
    inline_then, inline_else = _inline_block(then), _inline_block(other) if other else None
    if inline_then and (other is None or inline_else):
        line = pad + head + inline_then + (f" else {inline_else}" if other else "")
        if len(line) <= 120:
            return [line]
    out = [pad + head + "{"]
    for s in then:
        out += step_pb(s, indent + 2)
    while other is not None:
        nested = other[0] if len(other) == 1 else None
        if nested is not None and "if" in nested and not _timing_pb(nested):
            out.append(pad + f"}} else if {expr_pb(nested['if'])} {{")
            for s in nested["then"]:
                out += step_pb(s, indent + 2)
            other = nested.get("else")
        else:
            out.append(pad + "} else {")
            for s in other:
                out += step_pb(s, indent + 2)
            other = None
    return out + [pad + "}"]


def _wait_pb(step: Step, indent: int) -> list[str]:
    pad = " " * indent
    where = f" where {expr_pb(step['where'])}" if "where" in step else ""
    out = [f"{pad}wait for {step['wait_for']}{where} up to {step['up_to']}"]
    if "then" in step:
        out += _block_pb("then ", step["then"], indent + 2)
    if "else" in step:
        out += _block_pb("else ", step["else"], indent + 2)
    return out


def _split_pb(step: Step, indent: int) -> list[str]:
    pad = " " * indent
    out = [pad + "split {"]
    for arm in step["split"]:
        steps = arm["steps"]
        if len(steps) == 1 and _simple_pb(steps[0]) is not None and not _timing_pb(steps[0]):
            out.append(f"{pad}  {arm['weight']}%: {_simple_pb(steps[0])}")
        else:
            out += _block_pb(f"{arm['weight']}%: ", steps, indent + 2)
    return out + [pad + "}"]


def step_pb(step: Step, indent: int) -> list[str]:
    pad = " " * indent
    timing = _timing_pb(step)
    simple = _simple_pb(step)
    if simple is not None:
        return [pad + timing + simple]
    body_indent = indent + 2 if timing else indent
    if "if" in step:
        body = _if_pb(step, body_indent)
    elif "split" in step:
        body = _split_pb(step, body_indent)
    else:
        body = _wait_pb(step, body_indent)
    return ([pad + timing.rstrip()] if timing else []) + body


def _journey_pb(name: str, j: dict[str, Any]) -> list[str]:
    out = [f"journey {name} {{"]
    entry = j["entry"]
    if "trigger" in entry:
        where = f" where {expr_pb(entry['where'])}" if "where" in entry else ""
        out.append(f"  on {entry['trigger']}{where}")
    elif "enter" in entry:
        out.append(f"  on enter {entry['enter']}")
    elif "every" in entry:
        out.append(f"  {schedule_pb(entry['every'])} for {entry['for']}")
    else:
        out.append(f"  at {_value(entry['at'])} for {entry['for']}")
    for ex in j.get("exits", []):
        if "event" in ex:
            out.append(f"  exit on {ex['event']}" + (f" where {expr_pb(ex['where'])}" if "where" in ex else ""))
        else:
            out.append(f"  exit when {expr_pb(ex['when'])}")
    if "reenter_after" in j:
        out.append(f"  reenter after {j['reenter_after']}")
    if "goal" in j:
        goal = j["goal"]
        where = f" where {expr_pb(goal['where'])}" if "where" in goal else ""
        out.append(f"  goal {goal['event']}{where} within {goal['within']}")
    if "priority" in j:
        out.append(f"  priority {j['priority']}")
    out.append("")
    for step in j["steps"]:
        out += step_pb(step, 2)
    return out + ["}"]


def _group_pb(name: str, g: dict[str, Any]) -> list[str]:
    out = [f"group {name} {{", f"  name {_q(g['title'])}"]
    if "members" in g:
        out.append(f"  members {expr_pb(g['members'])}")
    opens = g["opens"]
    out.append(f"  opens {_value(opens) if isinstance(opens, dt.datetime) else schedule_pb(opens)}")
    out.append(f"  lasts {g['lasts']}")
    if "size" in g:
        out.append(f"  size {g['size']}")
    out.append(f"  invite {g['invite']}")
    for step in g["posts"]:
        out += step_pb(step, 2)
    for step in g["closing"]:
        out.append(f"  closing: {_simple_pb(step)}")
    return out + ["}"]


def _moments_pb(name: str, m: dict[str, Any]) -> list[str]:
    out = [f"moments {name} {{"]
    for rule in m["rules"]:
        when = f"at {_value(rule['at'])}" if "at" in rule else schedule_pb(rule["schedule"])
        visible = f" visible to {expr_pb(rule['visible_to'])}" if "visible_to" in rule else ""
        out.append(f"  {when}: post {rule['post']}{visible}")
    return out + ["}"]


def _rotation_pb(name: str, rot: dict[str, Any]) -> list[str]:
    out = [f"rotate {name} {{"]
    if "members" in rot:
        out.append(f"  members {expr_pb(rot['members'])}")
    out.append(f"  each contact every {rot['each_contact_every']}")
    if "order_by" in rot:
        out.append(f"  order by {rot['order_by']}" + (" desc" if rot.get("descending") else ""))
    out.append(f"  at {rot['at']}" + (f" on {', '.join(rot['weekdays'])}" if "weekdays" in rot else ""))
    out.append(f"  task {_q(rot['task'])}")
    return out + ["}"]


def _sla_pb(name: str, s: dict[str, Any]) -> list[str]:
    during = f" during {s['during']}" if "during" in s else ""
    return [f"sla {name} {{ {s['trigger']} answered by {s['answered_by']} within {s['within']}{during} }}"]


RENDER = {
    "segments": _segment_pb,
    "contents": _content_pb,
    "journeys": _journey_pb,
    "groups": _group_pb,
    "moments": _moments_pb,
    "rotations": _rotation_pb,
    "slas": _sla_pb,
}


# ---- rendering: YAML -----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """YAML as people write it by hand: block mappings, short lists of plain values in flow
    style (`[上海, 杭州]`), multi-line text as literal blocks (`|`)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    flow = all(not isinstance(v, dict | list) and not (isinstance(v, str) and "\n" in v) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)


def render_yaml(model: dict[str, Any]) -> str:
    body = yaml.dump(model, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)
    return "# 生成的基准剧本（bench/generate.py）的 YAML 版本：与 .pb 同样的定义。\n" + body


# ---- command line ---------------------------------------------------------------------------------


def check(g: Generated) -> list[str]:
    """Problems with a generated playbook: compile errors, YAML that does not round-trip,
    declarations the compiler did not see. Empty when all is well."""
    from playbook.compiler import compile_text

    problems: list[str] = []
    result = compile_text(g.playbook, "large.pb")
    problems += [f"{d.file}:{d.line}:{d.column}: {d.code}: {d.message}" for d in result.errors]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if yaml.load(g.yaml, Loader=loader) != g.model:
        problems.append("the YAML rendering does not load back to the model")
    files = result.files
    if files:
        seen: dict[str, int] = {}
        for decl in files[0].declarations:
            kind = type(decl).__name__.lower()
            seen[kind] = seen.get(kind, 0) + 1
        expected = {
            "segment": len(g.model["segments"]),
            "content": len(g.model["contents"]),
            "journey": len(g.model["journeys"]),
            "group": len(g.model["groups"]),
            "moments": len(g.model["moments"]),
            "rotate": len(g.model["rotations"]),
            "sla": len(g.model["slas"]),
        }
        for kind, n in expected.items():
            if seen.get(kind, 0) != n:
                problems.append(f"{kind}: the model has {n}, the parser saw {seen.get(kind, 0)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=DEFAULT_LINES)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args(argv)
    g = generate(args.lines, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "large.pb").write_text(g.playbook, "utf-8")
    (args.out / "large.yaml").write_text(g.yaml, "utf-8")
    print(f"{args.out / 'large.pb'}: {g.lines} lines, {len(g.playbook.encode())} bytes; {g.counts()}")
    print(f"{args.out / 'large.yaml'}: {g.yaml_lines} lines, {len(g.yaml.encode())} bytes")
    problems = check(g)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
