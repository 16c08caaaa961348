playbook "朋友圈日历与服务标准"
timezone "Asia/Shanghai"
quiet 22:30-07:30
limit moment 3 per account per day
limit task 80 per account per day else skip

segment 已购 = orders >= 1
segment SVIP = spent >= 5000 or tag "SVIP"
segment VIP候选 = spent >= 3000 and not in SVIP

content 早安 = "早安☀️ 新的一天从一杯热茶开始。"

content 新品 {
  text "本周新品上架，点开看看～"
  image "assets/new.jpg"
}

content 买家秀 = "来自老朋友们的真实反馈❤️"
content 周末福利 = "周末到店，老朋友专享试饮。"
content VIP群邀请 = "{name}，感谢一直以来的支持！邀请您加入VIP会员群，专属福利第一时间通知～"

moments 日常朋友圈 {
  every day at 08:30: post 早安
  every mon, wed, fri at 20:00: post 新品
  every tue, thu at 12:00: post 买家秀 visible to in 已购
  every sat at 12:00: post 周末福利 visible to not in 已购
}

journey VIP升级 {
  on enter VIP候选
  priority 20
  dm VIP群邀请
  tag add "VIP"
  task "{name}消费满3000，已发VIP群邀请，请跟进进群"
}

rotate 朋友圈互动 {
  each contact every 30d
  order by name
  at 10:00 on mon-fri
  task "给{name}的朋友圈点赞并评论一次"
}

sla 好友通过 { friend_request answered by friend_added within 30m during 09:00-21:00 }
sla 及时回复 { message answered by staff_message within 10m during 09:00-21:00 }
