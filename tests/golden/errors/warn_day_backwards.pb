quiet 22:00-08:00
content 欢迎 = "你好"
journey 新客 {
  on friend_added
  day 3 at 10:00: dm 欢迎
  day 1 at 10:00: dm 欢迎
}
