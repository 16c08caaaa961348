segment 高意向 = "问过价格" or tag "看过直播"
