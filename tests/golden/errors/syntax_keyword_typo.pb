limit dm 1 per contact per daily
