playbook "场景s：日历"
timezone "Asia/Shanghai"

content 工作日 = "工作日"
content 周末 = "周末"
content 一三 = "周一周三"
content 月 = "月初"
content 周日早 = "周日早"

moments 日历 {
  every weekday at 09:00: post 工作日
  every weekend at 10:00: post 周末
  every mon, wed at 20:00: post 一三
  every month on 1, 5 at 12:00: post 月
  cron "30 7 * * 0": post 周日早
}
