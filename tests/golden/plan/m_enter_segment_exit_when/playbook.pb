playbook "场景m：进入分群与退出条件"
timezone "Asia/Shanghai"

segment 沉睡 = orders >= 1 and not last_purchase_at within 30d
segment 不打扰 = tag "不打扰"

content 唤醒 = "{name|亲}，好久不见"
content 回归 = "{name|亲}，回归礼已备好"

journey 唤醒 {
  on enter 沉睡
  exit when in 不打扰
  at 10:00: dm 唤醒
  day 2 at 10:00: dm 回归
}
