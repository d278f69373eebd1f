
BYJxmÄL¶»9¶¯ÅƒÀsÅ¥¿¬DfHI¨ÅQ²)HË{L×ÐPÌ"È,NP¹2C;A‡Aå¼8A¡ÁÈ»ÂÊàÃ_D»ÇÆWKíÄã½tÀ2C%P“@eÄeFyBúDúÇ7F›¿Æ@ÏÎKÌ¬J:ÍÍÉcÆ1ÍRgÀÞNQ