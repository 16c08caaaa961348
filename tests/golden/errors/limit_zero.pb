limit task 0 per account per day
