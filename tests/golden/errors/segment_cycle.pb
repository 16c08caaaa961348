segment 甲 = in 乙 or spent > 100
segment 乙 = in 丙
segment 丙 = in 甲
