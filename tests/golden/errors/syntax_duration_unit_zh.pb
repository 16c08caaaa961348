playbook "直播群"

content 邀请 = "来直播群"

group 直播福利群 {
  opens 2026-12-10 20:00
  lasts 7天
  invite 邀请
}
