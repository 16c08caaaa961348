playbook "场景i：夏令时结束（纽约）"
timezone "America/New_York"

segment 全部 = name is set

content 秋一 = "{name}，第一个一点半"
content 秋二 = "{name}，一小时后"
content 秋三 = "{name}，一点四十五"
content 秋四 = "{name}，中午好"
content 夜帖 = "深夜好"

journey 秋 {
  on enter 全部
  day 1 at 01:30: dm 秋一
  after 1h: dm 秋二
  day 1 at 01:45: dm 秋三
  at 12:00: dm 秋四
}

moments 夜间 {
  every day at 01:30: post 夜帖
}
