playbook "场景n：计划边界"
timezone "Asia/Shanghai"
quiet 22:00-08:00

content 第一条 = "{name|亲}，第一条"
content 第二条 = "{name|亲}，第二条"

journey 两步 {
  on friend_added
  after 1h: dm 第一条
  after 1h: dm 第二条
}
