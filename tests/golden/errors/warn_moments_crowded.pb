content 早安 = "早"
moments 日常 {
  every day at 08:00, 12:00, 18:00: post 早安
  every sat at 20:00: post 早安
}
