content 欢迎 = "路径 C:\temp\x"
