# 文件头注释：说明这个剧本是做什么的

playbook "注释测试"  # 标题后的注释
timezone "Asia/Shanghai"
quiet 22:00-08:00  # 夜里不打扰

# 分组：人群
segment 已购 = orders >= 1  # 买过一次就算
segment 老客 = in 已购 and orders >= 2
# 表达式中间的注释
# 内容
content 欢迎语 {  # 欢迎语有两部分
  # 文字
  text """
  您好！
  # 这一行在字符串里，不是注释
  """  # 字符串之后
  image "a.jpg"
  # 内容块末尾
}
content 早安 = "早安"  # 短内容

journey 培育 {  # 旅程
  on friend_added  # 入口
  # 步骤开始

  after 5m: dm 欢迎语
  day 1 at 10:00:  # 时间
    # 时间和动作之间
    if in 老客 {
      dm 早安  # 老客
      # then 块末尾
    }
    # else 之前
    else {
      # else 块开头
      dm 欢迎语
    }  # if 结束
  split {
    50%: dm 早安  # A
    # 两个分支之间
    50%: dm 欢迎语
    # B 分支末尾
    # split 末尾
  }
  wait for message up to 1d then {} else {
    # 只有注释
  }
  # 旅程末尾
}  # 旅程结束

moments 朋友圈 {
  every day at 08:30: post 早安  # 每天
}

sla 回复 { message answered by staff_message within 10m }  # sla 里
# 文件末尾的注释
# 缩进的末尾注释
