journey 欢迎 {
  on friend_added
  dm 欢迎语
}
}
content 欢迎语 = "你好"
