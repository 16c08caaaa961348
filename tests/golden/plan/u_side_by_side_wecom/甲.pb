playbook "甲"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

content 甲问候 = "甲：{name|亲}您好"
content 甲问候二 = "甲：{name|亲}，再次问候"

journey 甲旅程 {
  on friend_added
  after 1h: dm 甲问候
  after 1h: dm 甲问候二
}
