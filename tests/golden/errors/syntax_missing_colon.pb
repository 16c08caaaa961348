journey 新客 {
  on friend_added
  day 1 at 10:00 dm 欢迎
}
content 欢迎 = "你好"
