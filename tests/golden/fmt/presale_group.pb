playbook "生鲜预售短期群"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day
limit group 3 per account per day

segment 已购 = orders >= 1
segment 沉睡 = in 已购 and not last_purchase_at within 60d
segment 水果客 = tag "水果" or favourite == "水果"

content 预售邀请 = "{name|亲}，本周车厘子预售群今晚开群，预售价比门店低两成，点此进群～"
content 开群欢迎 = "欢迎大家！预售规则：今晚20点开团，周五统一到店自提。"

content 预售介绍 {
  text "产地直发，48小时到店。"
  image "assets/cherry.jpg"
}

content 限时提醒 = "预售还剩最后12小时，错过等下周～"
content 感谢 = "感谢大家支持，本群将于今晚解散，下周预售再见！"

group 车厘子预售群 {
  name "车厘子预售·{account.name}"
  members in 水果客 and not in 沉睡
  opens every fri at 10:00
  lasts 3d
  size 200
  invite 预售邀请
  day 0 at 20:00: post 开群欢迎
  day 1 at 20:00: post 预售介绍
  day 2 at 10:00: post 限时提醒
  closing: post 感谢
}
