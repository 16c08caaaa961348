playbook "场景o：旅程拉群"
timezone "Asia/Shanghai"
quiet 23:00-08:00
limit dm 1 per contact per day

segment 老客 = orders >= 1

content 邀请 = "{name|亲}，快来进群"
content 欢迎 = "欢迎进群"
content 晚安 = "晚安"
content 再见 = "群要解散啦"
content 问候 = "{name|亲}，下午好"

group 快闪群 {
  members in 老客
  opens 2026-12-01 10:00
  lasts 12h
  size 2
  invite 邀请
  after 1h: post 欢迎
  day 0 at 20:00: post 晚安
  closing: post 再见
}

journey 拉群 {
  on tag_added where event.tag == "进群"
  invite 快闪群
}

journey 问候 {
  on tag_added where event.tag == "问候"
  dm 问候
}
