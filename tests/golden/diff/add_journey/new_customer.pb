playbook "新客7天培育"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day
limit task 60 per account per day

segment 新客 = added_at within 7d
segment 已购 = orders >= 1
segment 高意向 = tag "问过价格" or tag "看过直播"

content 欢迎语 {
  text """
  {name|亲}您好，我是您的专属顾问{account.name}。
  门店新品、搭配建议都可以随时问我～
  """
}
content 品牌故事 { text "给您讲讲我们的故事：" link "https://example.com/story" title "品牌故事" }
content 搭配技巧 = "{name|亲}，入冬三套通勤搭配，照着穿不出错。"
content 新客礼 = "{name|亲}，新客专享礼已放到您的账户，7天内有效。"

journey 新客培育 {
  on friend_added where event.source == "门店二维码"
  exit on purchase
  goal purchase within 14d

  after 5m: dm 欢迎语
  day 1 at 10:00: dm 品牌故事
  day 3 at 20:00:
    wait for message up to 1d
      then { tag add "活跃" }
      else { task "{name}加好友3天未互动，请主动聊一聊" }
  day 5 at 20:00:
    if in 高意向 { dm 新客礼 } else { dm 搭配技巧 }
  tag add "培育完成"
}

content 下单感谢 = "{name|亲}，谢谢您的订单！有任何问题随时找我。"

journey 下单感谢 {
  on purchase
  after 30m: dm 下单感谢
}
