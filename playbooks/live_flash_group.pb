playbook "周末直播快闪群"
# 每周四晚开一批3天的短期群，邀请问过价格、看过直播的高意向客户，周六晚直播，周日散群。
timezone "Asia/Shanghai"
quiet 22:00-08:30
limit dm 1 per contact per day
limit group 3 per account per day
limit task 30 per account per day

segment 高意向 = tag "问过价格" or tag "看过直播"
segment 近期已购 = last_purchase_at within 14d
segment 不打扰 = tag "勿扰" or tag "投诉过"

content 直播群邀请 {
  text "{name|亲}，这周六晚8点直播间上新，我拉了个3天的福利群，群里先看清单、先领券，周日就解散，不会一直打扰您～"
  link "https://example.com/live/weekly-group"
  title "周末直播福利群"
  desc "3天快闪群 · 周日解散"
}
content 开群欢迎 = "欢迎来到{account.name}的周末直播福利群！本群只开到周日晚上，福利清单明天中午发，先收藏本群～"
content 福利清单 {
  text """
  本周直播福利清单：
    1. 羊绒围巾 直播价 199（门店价 299）
    2. 加绒卫衣 买二送一
    3. 前50名下单送暖手宝
  """
  image "assets/live_list.jpg"
}
content 直播预告 {
  text "还有半小时开播！点下面的小程序预约，开播自动提醒～"
  miniprogram "wx8f3a2b1c4d5e6f70"
  page "pages/live/room?id=weekly"
  title "周六晚8点 · 冬季上新直播"
}
content 最后提醒 = "直播福利最后半天，今晚7点后恢复原价。本群今晚解散，有问题直接私聊{account.name}～"
content 散群感谢 = "感谢大家这三天的陪伴！本群即将解散，下周四再见～"

group 周末直播福利群 {
  name "周末直播福利群·{account.name}"
  members in 高意向 and not in 近期已购 and not in 不打扰
  opens every thu at 19:00
  lasts 3d
  size 150  # 超过150人自动开第二个群
  invite 直播群邀请

  after 30m: post 开群欢迎
  day 1 at 12:00: post 福利清单
  day 2 at 19:30: post 直播预告
  day 2 at 20:00: task "直播开始了，请在群里发直播间链接，并回复群里的问题"
  day 3 at 12:00: post 最后提醒
  closing: post 散群感谢
  closing: task "{account.name}的直播群即将解散，请把群里问过价格但没下单的客户记下来，下周一私聊跟进"
}
