content 欢迎 = "你好{name"
journey 新客 {
  on friend_added
  dm 欢迎
}
quiet 22:00-08:00
