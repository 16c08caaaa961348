content æ¬¢è¿Ž = "ÿþ"
