content 邀请 = "来"
content 欢迎 = "欢迎"
group 预售群 {
  opens 2026-12-10 10:00
  lasts 3d
  invite 邀请
  day 0 at 20:00: dm 欢迎
}
quiet 22:00-08:00
