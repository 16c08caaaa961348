timezone "Asia/Shanghai"
timezone "Asia/Tokyo"
