quiet 22:00-08:00
segment 高消费 = spnt >= 3000
segment 华东 = city in ["上海", "杭州"]
