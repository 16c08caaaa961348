content 欢迎 = "你好"
journey 新客 {
  on friend_added
  dm 欢迎
  goal purchase within 14d
}
quiet 22:00-08:00
