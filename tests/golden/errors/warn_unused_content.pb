content 欢迎 = "你好"
