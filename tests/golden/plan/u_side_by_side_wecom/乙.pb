playbook "乙"
timezone "Asia/Shanghai"
limit dm 2 per contact per day

content 乙问候 = "乙：{name|亲}您好"

journey 乙旅程 {
  on friend_added
  after 90m: dm 乙问候
}
