playbook "场景e：短期群分群"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

segment 老客 = orders >= 1
segment 首批 = tag "首批"

content 早安 = "早安，{name|亲}"
content 邀请 = "{name|亲}，邀请您加入{account.name}的福利群"
content 开群 = "欢迎大家！我是{account.name}"
content 介绍 = "今日福利介绍"
content 告别 = "感谢参与，本群即将解散"

journey 早安问候 {
  at 2026-12-02 09:00 for 首批
  dm 早安
}

group 福利群 {
  name "福利群·{account.name}"
  members in 老客
  opens 2026-12-02 10:00
  lasts 2d
  size 2
  invite 邀请
  day 0 at 20:00: post 开群
  day 1 at 12:00: post 介绍
  closing: post 告别
}
