playbook "场景f：朋友圈可见范围"
timezone "Asia/Shanghai"
quiet 22:00-08:00

segment 已购 = orders >= 1
segment VIP = tag "VIP"

content 早安 = "早安！"
content 新品 = "新品上市，{account.name}为您推荐"
content 专属 = "VIP专属福利"

moments 日常 {
  every day at 08:30: post 早安
  every day at 20:00: post 新品 visible to in 已购
  at 2026-12-02 22:30: post 专属 visible to in VIP
}
