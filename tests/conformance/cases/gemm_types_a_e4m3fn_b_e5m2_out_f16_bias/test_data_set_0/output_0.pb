
BYJxBµ²¿¼ë@ê>ö@ÚÀûÉÅDUA/6lD
IµFÞE‹ÁrA¨IIÂ|3-F‰A<3LÅ–AuBuBQÃƒÆJfLaAPH\ÆIÆÉLðÁ¼CfÁ@²À¶@y=:·S?ˆE§¶ÂÄƒÁÃÈÚEsH÷½ÉWF