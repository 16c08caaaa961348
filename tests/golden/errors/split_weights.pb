quiet 22:00-08:00
content A1 = "a"
content B1 = "b"
journey 实验 {
  on friend_added
  goal purchase within 14d
  split {
    50%: dm A1
    40%: dm B1
  }
}
