playbook "双12大促日历"
# 双12前后两周：朋友圈节奏、老客预告、SVIP专人回访和大促期间的回复时效。
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day
limit dm 3 per contact per week
limit moment 3 per account per day
limit task 60 per account per day else skip

segment 已购 = orders >= 1
segment 老客 = orders >= 2
segment SVIP = spent >= 5000 or tag "SVIP"
segment 华东 = city in ["上海", "杭州", "南京", "苏州"]
segment 不打扰 = tag "勿扰" or tag "投诉过"
segment 预告对象 = in 老客 and not in 不打扰

content 早安 = "早安☀️ 双12倒计时，今天也给自己选一件喜欢的。"
content 新品速递 {
  text "本周新品：羊绒大衣三色上新，老客双12前可预留～"
  video "assets/coat_tryon.mp4"
}
content 买家秀 = "来自老朋友们的真实上身反馈❤️ 谢谢大家的信任。"
content 预售开启 {
  text "双12预售今晚开始！定金50抵100，尾款12号当天付。"
  link "https://example.com/d12/presale"
  title "双12预售会场"
  desc "定金50抵100 · 老客再享9折"
}
content 双12开抢 {
  text "双12正式开抢！全场满400减60，SVIP再送围巾一条。"
  image "assets/d12_main.jpg"
  image "assets/d12_rules.jpg"
}
content 老客预告 {
  text """
  {name|亲}，双12的老客价先发您一份：
    · 定金50抵100（12月10日晚8点开始）
    · 老客在此基础上再享9折
  价目表放在文件里了，看中哪款告诉我，我帮您先留着。
  """
  file "assets/双12老客价目表.pdf"
}
content 开抢提醒 = "{name|亲}，双12已经开抢，您留的那款库存不多了，需要我帮您下单吗？"

journey 双12老客预告 {
  at 2026-12-09 10:00 for 预告对象
  exit on purchase
  goal purchase within 5d
  priority 15

  dm 老客预告
  day 3 at 09:30: dm 开抢提醒  # 12月12日 09:30
  day 4 at 15:00:
    if in SVIP { task "SVIP客户{name}双12还没下单，请电话问候一次，顺便确认围巾赠品的颜色" }
}

moments 双12朋友圈 {
  every day at 08:30: post 早安
  every mon, wed, fri at 20:00: post 新品速递 visible to in 已购
  cron "0 12 * * 2,4": post 买家秀  # 每周二、四中午
  at 2026-12-10 20:00: post 预售开启
  at 2026-12-12 09:00: post 双12开抢
}

rotate SVIP回访 {
  members in SVIP and not in 不打扰
  each contact every 14d
  order by spent desc  # 消费高的先回访
  at 15:00 on mon-fri
  task "回访SVIP{name}：问问最近买的衣服穿着怎么样，记录尺码和喜好"
}

rotate 朋友圈互动 {
  members in 已购
  each contact every 30d
  order by name  # 按拼音：阿四、白一、丁二……
  at 10:00 on mon-fri
  task "给{name}的朋友圈点赞并认真评论一次"
}

sla 大促好友通过 { friend_request answered by friend_added within 30m during 09:00-21:00 }
sla 大促及时回复 { message answered by staff_message within 5m during 09:00-22:00 }
