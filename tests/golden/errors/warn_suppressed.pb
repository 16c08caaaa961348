content 欢迎 = "你好"   # ignore: unused
content 再见 = "再见"
journey 新客 {   # ignore: no-quiet-hours
  on friend_added
  dm 再见
}
content 多余 = "x"
