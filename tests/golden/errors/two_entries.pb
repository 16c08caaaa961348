segment 老客 = orders >= 1
content 欢迎 = "你好"
journey 新客 {
  on friend_added
  on enter 老客
  dm 欢迎
}
quiet 22:00-08:00
