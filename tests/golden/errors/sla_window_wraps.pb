sla 及时回复 { message answered by staff_message within 10m during 21:00-09:00 }
