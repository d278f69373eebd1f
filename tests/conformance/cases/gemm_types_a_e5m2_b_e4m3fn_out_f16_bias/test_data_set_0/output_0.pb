
BYJx+@uCÚ½ØÃGFˆ>5Ý½±CÍGJ¿ßÈ¶KbÍ2ÑuÌQHKÁ»û6=À8wA~6ßCñBÈ‡¹ÞH¼À}É™=ËÝK|ÅfK&È¸CÁ†=jE~AáÃÃBuD¢IÄè<ùKMEÁrÊLKÂ¥G²>Ì