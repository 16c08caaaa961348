playbook "提醒写错"

sla 及时回复 {
  message answered by staff_message within 10m during 09:00-21:00
  remind at 8m
  remind at 5m
  remind at 5m
  remind at 10m
}

sla 好友通过 {
  friend_request answered by friend_added within 30m
  remind at 10m
  escalate to a3 after 1h
  escalate to a3 after 30m
}
