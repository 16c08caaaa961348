segment 未购 = orders == 0
content 新品 = "本周新品"

moments 日常 {
  every day at 09:00: post 新品 visible to 未购
}
