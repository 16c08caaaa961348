playbook "服务标准"
# 一行写完的保持一行
sla 好友通过 { friend_request answered by friend_added within 30m remind at 10m }
sla   及时回复 {   message answered by staff_message within 10m during 09:00-21:00   # 营业时间
     remind at 4m
  # 第二次提醒
  remind at 8m
escalate to a3 after 30m
    escalate to “店长” after 2h   # 角色
}
