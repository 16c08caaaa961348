playbook "场景d：购买即退出"
timezone "Asia/Shanghai"
quiet 22:00-08:00

content 欢迎 = "{name|亲}您好"
content 种草 = "{name|亲}，看看这款"
content 券 = "{name|亲}，送您一张券"

journey 培育 {
  on friend_added
  exit on purchase
  goal purchase within 7d
  after 1h: dm 欢迎
  after 12h: dm 种草
  day 2 at 10:00: dm 券
}
