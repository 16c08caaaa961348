playbook "场景r：打标签与目标"
timezone "Asia/Shanghai"

segment 会员 = tag "VIP"

content 升级 = "{name|亲}，恭喜升级"
content 欢迎会员 = "{name|亲}，欢迎成为会员"
content 标签通知 = "{name|亲}，您有新标签"

journey 升级 {
  on purchase where event.amount >= 1000
  goal purchase within 1d
  tag add "VIP"
  after 10m: dm 升级
  tag add "VIP"
  after 1h: tag remove "VIP"
}

journey 会员欢迎 {
  on enter 会员
  after 30m: dm 欢迎会员
}

journey 标签触发 {
  on tag_added where event.tag == "VIP"
  dm 标签通知
}
