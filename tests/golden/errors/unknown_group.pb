content 邀请 = "来群里"
journey 新客 {
  on friend_added
  invite 预售群
}
quiet 22:00-08:00
