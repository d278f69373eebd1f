
BYJxú°£ÃäAeÄèD¯B\¿DIxF Cl:3BÅÐÁšH¡ÊóÈiGPÇŸE<i3MÁNDÊE3EEÂÃ•ÁÇD°F‹HG”I.Î©I<FªÐÒÂ%Í—B¾,IEžÂ¡=î²>E>IÑÅ0D‡ÄBrJcF%Ðû=LéI,Á®F