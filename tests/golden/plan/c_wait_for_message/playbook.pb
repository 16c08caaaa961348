playbook "场景c：等待回复"
timezone "Asia/Shanghai"
quiet 23:00-07:00

content 问候 = "{name|亲}您好，有问题随时找我"
content 感谢 = "{name|亲}，谢谢回复！"
content 收尾 = "{name|亲}，祝您生活愉快"

journey 互动 {
  on friend_added
  after 10m: dm 问候
  wait for message up to 1d
    then { after 30m: dm 感谢 }
    else { task "{name}一天未回复，请跟进" }
  after 1h: dm 收尾
}
