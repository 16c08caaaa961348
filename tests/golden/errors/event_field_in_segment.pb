segment 大单 = event.amount > 1000
