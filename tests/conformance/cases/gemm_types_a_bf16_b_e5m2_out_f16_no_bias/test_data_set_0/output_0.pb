
BYJxZ8'DCÀP=BÂ F¿”2ÏÃ(Å‡ÇäÈVK
=°J±ÅVHmMžÍ"Cü6Ü4ºBÁ@«¼ˆ¼¶¾™Ææ¹7H;ÂÆÈÿÇuGéJÉHM<ÍìÄÉÆr=F–´µC~7IFT<’>fFfÅh;ŒÇœ@UÂû¼DLúAQÌîG