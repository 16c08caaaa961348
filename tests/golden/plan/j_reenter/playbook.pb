playbook "场景j：再次进入"
timezone "Asia/Shanghai"

segment 会员 = orders >= 1

content 致谢 = "{name|亲}，感谢您{event.amount}元的订单"
content 首单礼 = "{name|亲}，首单礼已备好"
content 日报 = "{name|亲}，今日推荐"

journey 大单致谢 {
  on purchase
  reenter after 2d
  after 10m: dm 致谢
}

journey 首单礼遇 {
  on purchase
  after 10m: dm 首单礼
}

journey 每日关怀 {
  every day at 09:00 for 会员
  dm 日报
}
