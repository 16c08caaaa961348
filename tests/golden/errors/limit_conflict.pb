limit dm 1 per contact per day
limit dm 2 per contact per day
