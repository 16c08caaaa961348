content 早安 = "早"
moments 日常 {
  every 2d: post 早安
}
