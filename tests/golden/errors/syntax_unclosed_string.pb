content 欢迎 = "你好
segment 新客 = added_at within 7d
