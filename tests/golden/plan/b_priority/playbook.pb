playbook "场景b：优先级竞争"
timezone "Asia/Shanghai"
quiet 21:00-09:00
limit dm 1 per contact per day

segment 会员 = orders >= 1
segment 早鸟 = tag "早鸟"

content 关怀 = "{name|亲}，会员专属关怀"
content 新品A = "{name|亲}，A款上新"
content 新品B = "{name|亲}，B款上新"
content 早鸟 = "{name|亲}，早鸟专享"

journey 重点关怀 {
  on enter 会员
  priority 10
  at 10:00: dm 关怀
}

journey A组推送 {
  on enter 会员
  priority 2
  at 10:00: dm 新品A
}

journey B组推送 {
  on enter 会员
  priority 2
  at 10:00: dm 新品B
}

journey 早鸟推送 {
  on enter 早鸟
  priority 1
  at 09:30: dm 早鸟
}
