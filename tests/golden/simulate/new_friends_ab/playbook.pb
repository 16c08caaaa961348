playbook "模拟新客与A/B"
# tests/test_plan_simulate.py: planned with --simulate
#   friend_added=4/day,tag_added[tag=问过价格]=1.5/day,reply=0.3,purchase=0.3 --seed 3 --days 3
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

segment 已购 = orders >= 1

content 欢迎语 = "{name|亲}您好，我是{account.name}～"
content 同城活动 = "{name|亲}，{city}门店本周末有新品试穿。"
content 满减券 = "{name|亲}，首单满299减50。"
content 搭配建议 = "{name|亲}，给您搭了三套，看看喜欢哪套～"

journey 新客欢迎 {
  on friend_added where event.source == "门店二维码" or event.source in ["直播间"]
  exit on purchase
  goal purchase within 7d

  after 5m: dm 欢迎语
  day 1 at 10:00: dm 同城活动
}

journey 问价实验 {
  on tag_added where event.tag == "问过价格" and not in 已购
  exit on purchase
  goal purchase within 7d

  after 30m:
    split {
      50%: dm 满减券
      50%: dm 搭配建议
    }
}

journey 回访 {
  on message
  reenter after 1d

  after 1h: task "回复{name}的消息"
}
