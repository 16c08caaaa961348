rotate 点赞 {
  each contact every 30d
  at 10:00 on mon-fri
}
