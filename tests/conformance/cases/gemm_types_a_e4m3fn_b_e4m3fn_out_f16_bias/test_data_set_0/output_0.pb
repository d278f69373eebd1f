
BYJx=fD7½N=©;`Å0FýA¾F¥?dB¹G™Êˆ=DÄ±ÌnÇøºÀëÄU³~Å¤¾{½lAÈHÈxÅ¹©rÅ;DçÄK·I+Ë9DÕDšÈE8‡GaEú1ÿÂ(¼*½L@¼GMH‹HÐEsBTARCB)B¢ÈšÌŒ´