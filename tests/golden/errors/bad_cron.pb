content 早安 = "早"
moments 日常 {
  cron "0 25 * * *": post 早安
}
