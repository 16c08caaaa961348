playbook "VIP会员群邀请"
# 累计消费满3000元的客户进常驻的VIP会员群：专属顾问发邀请、员工当天跟进进群；
# 每周三晚群里发会员价；不再满足条件的群成员交给员工处理；大额订单单独致谢。
timezone "Asia/Shanghai"
quiet 21:30-09:00
limit dm 1 per contact per day
limit dm 3 per contact per week
limit task 50 per account per day else skip

segment 已购 = orders >= 1
segment SVIP = tag "SVIP"
segment VIP = spent >= 3000 and not in SVIP
segment 已进VIP群 = tag "VIP群"
segment 不打扰 = tag "勿扰"

content VIP邀请 {
  text """
  {name|亲}，感谢您一直以来的支持！
  您在我们这里的累计消费已满3000元，诚邀您加入「{account.name}的VIP会员群」：
    · 每周三会员专享价
    · 新品到店提前试穿
    · 生日月专属礼
  点开下面的卡片就能进群～
  """
  link "https://example.com/vip/join"
  title "VIP会员群 · 进群有礼"
  desc "会员价、新品试穿、生日礼"
}
content 会员价 = "本周三会员专享价已上线：今晚20:00-22:00下单享会员价，数量有限～"
content VIP进群提醒 = "{name|亲}，VIP群今晚8点有会员专享价，还没进群的话点之前发您的邀请卡片就可以～"
content 大单致谢 {
  text "{name|亲}，您{event.amount}元的订单已收到，我们会尽快安排发货。有任何问题随时找我，我是{account.name}。"
}

# 常驻群：一直开着，每个顾问一个群，满200人自动开下一个群（VIP会员群/a1/2 …）
group VIP会员群 {
  name "{account.name}的VIP会员群"
  admit in VIP or in SVIP
  size 200
  invite VIP邀请
  every wed at 20:00: post 会员价
  when not admitted: task "{name}已不满足VIP会员条件（累计消费{spent|?}元），请决定是否请出VIP群"
}

# 满3000进VIP群：进入分群的那一刻触发
journey VIP群邀请 {
  on enter VIP
  exit when in 已进VIP群 or in 不打扰
  priority 20  # 与致谢同一天时，邀请先发
  goal joined_group within 7d

  invite VIP会员群
  task "{name}累计消费{spent}元，刚收到VIP群邀请，请今天内私聊确认并拉进群"
  day 1 at 19:00:
    wait for joined_group up to 20h
      then { tag add "VIP群" }
      else { dm VIP进群提醒 }
  day 3 at 10:00:
    if not tag "VIP群" and not in group VIP会员群 {
      task "{name}3天还没进VIP群，请打个电话问问（不要再发消息）"
    }
  tag add "VIP已邀请"
}

# 单笔满1000元的订单：10分钟后致谢
journey 大单致谢 {
  on purchase where event.amount >= 1000
  reenter after 30d
  priority 5

  after 10m: dm 大单致谢
}
