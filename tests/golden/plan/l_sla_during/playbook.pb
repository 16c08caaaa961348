playbook "场景l：服务时效"
timezone "Asia/Shanghai"

sla 及时回复 { message answered by staff_message within 10m during 09:00-21:00 }
sla 好友通过 { friend_request answered by friend_added within 30m during 09:00-21:00 }
