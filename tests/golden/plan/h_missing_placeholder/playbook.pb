playbook "场景h：缺失占位符"
timezone "Asia/Shanghai"

content 问候 = "{name}您好"
content 问候2 = "{name|亲}您好"
content 介绍 = "我是{account.name}"

journey 欢迎 {
  on friend_added
  after 5m: dm 问候
  after 5m: dm 问候2
  after 5m: dm 介绍
}
