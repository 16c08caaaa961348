content 欢迎 = "你好"
journey 新客 {
  on friend_added
  after 12h1d: dm 欢迎
}
