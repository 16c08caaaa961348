playbook "场景u：常驻群"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

segment VIP = spent >= 3000

content 邀请 = "{name|亲}，诚邀您加入VIP群"
content 会员价 = "本周会员价"

group VIP群 {
  name "{account.name}的VIP群"
  admit in VIP
  size 2
  invite 邀请
  every wed at 20:00: post 会员价
  when not admitted: task "{name}不满足VIP条件，请确认是否移出群"
}

journey 邀请 {
  on enter VIP
  reenter after 1d
  invite VIP群
}
