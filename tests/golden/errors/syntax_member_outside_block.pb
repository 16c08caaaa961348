content 欢迎 {
  text "你好"
}
  image "a.jpg"
}
