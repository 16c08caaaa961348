playbook "场景i：夏令时开始（纽约）"
timezone "America/New_York"

segment 全部 = name is set

content 午安 = "{name}，午安"
content 次日 = "{name}，24小时后"
content 夜一 = "{name}，夜里两点半"
content 夜二 = "{name}，又是两点半"
content 夜帖 = "深夜好"

journey 白天 {
  on enter 全部
  day 0 at 12:00: dm 午安
  after 1d: dm 次日
}

journey 深夜 {
  on enter 全部
  day 1 at 02:30: dm 夜一
  at 02:30: dm 夜二
}

moments 夜间 {
  every day at 02:30: post 夜帖
}
