playbook "直播"
quiet 22:00-08:00

content 预告 = "今晚直播"

journey 预告 {
  on friend_added
  day 2 at 1919:30: dm 预告
}
