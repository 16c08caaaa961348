content 早安 = "早"
moments 日常 {
  every fri-mon at 08:00: post 早安
}
