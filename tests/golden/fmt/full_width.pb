playbook "全角标点"
quiet 22:00-08:00
limit dm 1 per contact per day
segment 华东 = city in ["上海", "杭州", "南京"]
segment 大客 = (spent >= 5000 or tag "VIP：金卡") and not in 华东
content 欢迎 = "您好（{name|亲}），欢迎：有事随时找我～"

journey 旅程 {
  on friend_added where event.source == "门店，二维码"
  after 30m: dm 欢迎
  day 1 at 10:00: split {
    50%: dm 欢迎
    50%: tag add "测试：B"
  }
}

rotate 互动 {
  at 10:00 on mon-fri
  task "给{name}点赞"
}
