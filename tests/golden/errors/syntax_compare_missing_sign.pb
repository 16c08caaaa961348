segment 大客户 = spent = 5000
segment 复购 = orders 2
