playbook "沉睡客唤醒"
# 买过但60天没再买的老客，每周一批：先问候，不回复再送回归礼，10天后按城市和偏好分流。
timezone "Asia/Shanghai"
quiet 21:00-09:00
limit dm 1 per contact per day
limit dm 1 per contact per week
limit task 40 per account per day else skip

segment 已购 = orders >= 1
segment 沉睡 = in 已购 and not last_purchase_at within 60d
segment 不打扰 = tag "勿扰" or tag "投诉过"
segment 可唤醒 = in 沉睡 and not in 不打扰
segment 华东 = city in ["上海", "杭州", "南京", "苏州"]

content 老友问候 {
  text """
  {name|亲}，好久不见～我是{account.name}。
  最近店里上了几款冬季新品，想到您之前喜欢{favourite|我们家的东西}，特地来跟您说一声。
  有想看的回我一句，我给您发实拍。
  """
}
content 回归礼 {
  text "{name|亲}，给老朋友准备了一份回归礼：满199减40，7天内有效，点卡片领取～"
  miniprogram "wx8f3a2b1c4d5e6f70"
  page "pages/coupon/detail?id=comeback40"
  title "老朋友回归礼 满199减40"
  image "assets/comeback_coupon.jpg"
}
content 到店邀请 = "{name|亲}，本周六下午{city}门店有新品试穿会，到店报我的名字（{account.name}）有小礼物～"
content 水果上新 = "{name|亲}，这周的丹东草莓和阳光玫瑰到了，老客下单第二件半价，要给您留一份吗？"

journey 沉睡客唤醒 {
  every mon at 10:30 for 可唤醒
  exit on purchase
  exit when in 不打扰
  reenter after 60d
  goal purchase within 30d
  priority 5

  dm 老友问候
  wait for message up to 2d
    then {
      tag add "已回复唤醒"
      task "{name}回复了唤醒消息，请今天内跟进，问问最近的需求"
    }
    else {
      day 3 at 20:00: dm 回归礼
    }
  day 10 at 12:00:
    if in 华东 { dm 到店邀请 }
    else if favourite == "水果" { dm 水果上新 }
    else { task "{name}唤醒10天仍未下单，请先给TA的朋友圈点个赞，再决定要不要私聊" }
  tag add "唤醒流程完成"
}
