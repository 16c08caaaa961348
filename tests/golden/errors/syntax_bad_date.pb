segment 双11 = added_at >= 2026-02-30
