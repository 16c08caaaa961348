playbook "首单转化A/B测试"
# 问过价格但还没买过的客户：A组发满减券，B组发搭配建议（不降价），看哪种14天内成交更多。
timezone "Asia/Shanghai"
quiet 22:00-08:30
limit dm 1 per contact per day
limit dm 3 per contact per week
limit task 60 per account per day else skip

segment 已购 = orders >= 1
segment 不打扰 = tag "勿扰" or tag "投诉过"

content 满减券 {
  text "{name|亲}，您问的那款今天有首单专享：满299减50，3天内有效，点卡片直接领～"
  miniprogram "wx8f3a2b1c4d5e6f70"
  page "pages/coupon/detail?id=first50"
  title "首单专享 满299减50"
}
content 搭配建议 {
  text """
  {name|亲}，您问的那款我帮您搭了三套，通勤、周末、见家长都能穿，
  照片发您参考～尺码拿不准的话，把身高体重告诉我，我帮您选。
  """
  image "assets/outfit_1.jpg"
  image "assets/outfit_2.jpg"
  image "assets/outfit_3.jpg"
}
content 买家秀 = "{name|亲}，这是上周几位顾客的上身效果，都是160左右的个子，可以参考一下～"
content 直播提醒_福利 = "{name|亲}，今晚8点直播间有首单福利，开播第一分钟就上～"
content 直播提醒_新品 = "{name|亲}，今晚8点直播首发三款冬季新品，主播现场试穿～"
content 直播提醒_顾问 = "{name|亲}，今晚8点直播我也在，您上次看中的那款可以让主播现场试给您看～"

# 两组对比：优惠驱动 vs 内容驱动
journey 问价转化实验 {
  on tag_added where event.tag == "问过价格" and not in 已购
  exit on purchase
  exit when in 不打扰
  reenter after 90d
  goal purchase within 14d
  priority 10

  after 30m:
    split {
      50%: dm 满减券  # A组
      50%: {  # B组
        dm 搭配建议
        day 2 at 20:00: dm 买家秀
      }
    }
  day 4 at 11:00:
    task "{name}问过价格4天还没下单，请翻翻聊天记录，针对顾虑再聊一次"
}

# 三组文案对比：哪种直播提醒更能带来下单
journey 直播提醒文案测试 {
  on tag_added where event.tag == "看过直播" and not in 已购
  exit on purchase
  exit when in 不打扰
  reenter after 30d
  goal purchase within 7d

  at 18:30:
    split {
      40%: dm 直播提醒_福利  # A组
      30%: dm 直播提醒_新品  # B组
      30%: dm 直播提醒_顾问  # C组
    }
}
