content 欢迎 = "你好"
journey 新客 {
  on friend_added
  dm 欢迎
}
