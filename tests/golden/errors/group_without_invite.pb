content 欢迎 = "欢迎进群"
group 预售群 {
  opens 2026-12-10 10:00
  lasts 3d
  day 0 at 20:00: post 欢迎
}
