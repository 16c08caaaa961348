segment 新客 = added_at within 7d
segment 新客 = added_at within 3d
