segment 老客 = orders >= 2
content 关怀 = "好久不见"
journey 回访 {
  on message
  if in 老课 { dm 关怀 }
}
quiet 22:00-08:00
