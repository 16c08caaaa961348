quiet 22:00-08:00
content A1 = "a"
content B1 = "b"
journey 实验 {
  on friend_added
  split { 50%: dm A1  50%: dm B1 }
}
