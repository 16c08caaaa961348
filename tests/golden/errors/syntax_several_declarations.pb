segment 新客 = added_at within
segment 老客 = orders >= 1
content 欢迎 = 你好
limit dm 1 per contact per day
