
BYJxÓÃ|Â}BNÀÇEÀx»cËJšË}ÆÍBÅúÌiÐ‡µ‰ÊpKBGL?hFCsA²ÄÔÀ™BK@oFEÇE;C‹ÇvCôÎg>IkÀÌÅG"=‚·w@È¼7·ÎÂêIìÅ®H›CòDÈ¾?¯ÀkH¦Ã£ÆjBÇ