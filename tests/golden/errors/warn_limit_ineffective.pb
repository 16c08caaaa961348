limit dm 5 per contact per day
limit dm 3 per contact per week
