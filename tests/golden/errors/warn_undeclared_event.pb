quiet 22:00-08:00
event 直播预约
content 欢迎 = "你好"
journey 新客 {
  on 加好友
  dm 欢迎
}
journey 预约 {
  on 直播预约
  dm 欢迎
}
journey 报名 {
  on 直播报名
  exit on 购买
  dm 欢迎
}
