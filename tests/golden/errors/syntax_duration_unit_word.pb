segment 沉睡 = last_order_at within 30 days
