playbook "场景p：先被静默再被跳过"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per week else skip

content 第一条 = "{name|亲}，第一条"
content 第二条 = "{name|亲}，第二条"

journey 跟进 {
  on friend_added
  after 1h: dm 第一条
  after 1h: dm 第二条
  after 1h: task "跟进{name}"
}
