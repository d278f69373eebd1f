
BYJx╦lфgюГA>СEяF┬D#@╤дuдеEMBQх3дOD╙л+JЙG(L>╞6!A:;PB0╫╪адиюфPй╗и▒иP)╤]лB л.н╙JC$G|╧Я╨д:8Z8[йhге@F"B}@	йNFУEEаC┌L