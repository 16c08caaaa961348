playbook "场景v：提醒与升级"
timezone "Asia/Shanghai"

sla 及时回复 {
  message answered by staff_message within 10m during 09:00-21:00
  remind at 4m
  remind at 8m
  escalate to a3 after 30m
}

sla 好友通过 {
  friend_request answered by friend_added within 30m
  remind at 10m
  escalate to "店长" after 1h
}
