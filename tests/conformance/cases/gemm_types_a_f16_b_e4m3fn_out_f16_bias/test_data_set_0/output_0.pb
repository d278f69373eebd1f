
BYJx¾ƒ@l.°A^ÀM@5SÌ\HdÄ’D÷>V½{G-B“IQË«H…@PÌ\Ã{´DGšÁ8´CÊL!DCDJE¼¹ÄÜÄlEæKÄyÊ¢IÀ¹L?ýÄÀÁó¶à=b?ÂÀÿ9%I6Fl.°ÄÇD%Æ¾I‡?^@;D