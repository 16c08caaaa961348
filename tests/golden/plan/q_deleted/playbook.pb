playbook "场景q：删除好友"
timezone "Asia/Shanghai"
quiet 22:00-08:00

segment 全部 = name is set

content 晚安 = "{name|亲}，晚安"
content 早安 = "早安"

journey 晚间 {
  on enter 全部
  at 22:30: dm 晚安
  day 2 at 10:00: dm 晚安
}

moments 日常 {
  every day at 09:00: post 早安
}
