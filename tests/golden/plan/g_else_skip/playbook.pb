playbook "场景g：超限跳过"
timezone "Asia/Shanghai"
limit dm 1 per contact per day else skip
limit task 1 per account per day else skip

content 第一条 = "{name|亲}，第一条"
content 第二条 = "{name|亲}，第二条"
content 次日 = "{name|亲}，第二天见"

journey 双推 {
  on friend_added
  after 10m: dm 第一条
  after 1h: dm 第二条
  after 30m: task "跟进{name}"
  day 1 at 10:00: dm 次日
}
