timezone "Asia/Shanghia"
