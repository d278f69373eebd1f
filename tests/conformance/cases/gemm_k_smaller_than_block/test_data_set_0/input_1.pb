BA_scaleJжб
:ШjМ:•…^: