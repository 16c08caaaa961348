playbook "场景k：轮流互动"
timezone "Asia/Shanghai"

rotate 点赞 {
  each contact every 7d
  order by name
  at 10:00 on mon-fri
  task "给{name}的朋友圈点赞"
}
