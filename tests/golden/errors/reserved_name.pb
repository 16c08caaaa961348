segment day = orders >= 1
