segment 新客：added_at within 7d
