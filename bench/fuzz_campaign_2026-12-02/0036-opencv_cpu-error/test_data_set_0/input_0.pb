
Bin_3Jª5