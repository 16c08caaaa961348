content 欢迎 = "你好"
journey 新客 {
  dm 欢迎
}
quiet 22:00-08:00
