content 活动 {
  link "https://example.com"
  miniprogram "wx123" page "pages/index" title "活动"
}
