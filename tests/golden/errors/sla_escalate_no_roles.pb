playbook "账号没有角色列"

sla 好友通过 { friend_request answered by friend_added within 30m escalate to "店长" after 1h }
