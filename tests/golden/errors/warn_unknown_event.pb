quiet 22:00-08:00
content 欢迎 = "你好"
journey 新客 {
  on frend_added
  dm 欢迎
}
