playbook "场景a：静默时段与每日上限"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

content 欢迎 = "{name|亲}您好，欢迎关注"
content 回访 = "{name|亲}，用得怎么样？"
content 福利 = "{name|亲}，今晚福利来了"

journey 欢迎旅程 {
  on friend_added
  priority 5
  after 1h: dm 欢迎
  after 2h: dm 回访
}

journey 福利旅程 {
  on friend_added
  priority 1
  after 90m: dm 福利
}
