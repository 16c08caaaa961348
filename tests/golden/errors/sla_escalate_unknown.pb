playbook "升级对象写错"

sla 及时回复 {
  message answered by staff_message within 10m
  escalate to a9 after 30m
  escalate to 老陈 after 1h
  escalate to "店张" after 2h
}
