quiet 22:00-08:00
content 一 = "1"
journey 轰炸 {
  on friend_added
  dm 一
  after 1h: dm 一
  day 1 at 10:00: dm 一
  day 2 at 10:00: dm 一
  day 5 at 10:00: dm 一
}
