playbook "场景t：间隔日历"
timezone "Asia/Shanghai"

content 四小时 = "四小时一次"
content 早晚 = "早晚各一次"

moments 高频 {  # ignore: moments-crowded
  every 4h between 09:00-18:00: post 四小时
  every day at 07:00, 22:00: post 早晚
}
