content 欢迎语 = "你好"
journey 新客 {
  on friend_added
  dm 欢迎
}
quiet 22:00-08:00
