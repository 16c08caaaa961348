playbook “全角标点”
quiet ２２：００－０８：００
limit dm １ per contact per day
segment 华东 ＝ city in 【“上海”，“杭州”、“南京”】
segment 大客 ＝ （spent ＞＝ ５０００ or tag “VIP：金卡”） and not in 华东
content 欢迎 ＝ “您好（{name|亲}），欢迎：有事随时找我～”
journey 旅程 ｛
  on friend_added where event．source ＝＝ “门店，二维码”
  after ３０m： dm 欢迎
  day １ at １０：００： split ｛ ５０％： dm 欢迎 ５０％： tag add “测试：B” ｝
｝
rotate 互动 ｛
  at １０：００ on mon－fri
  task “给{name}点赞”
｝
