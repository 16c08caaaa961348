segment 老客 = orders ： 2
