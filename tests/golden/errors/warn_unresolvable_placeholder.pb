quiet 22:00-08:00
content 感谢 = "感谢您消费{event.amount}元"
segment 已购 = orders >= 1
journey 回访 {
  every day at 10:00 for 已购
  dm 感谢
}
