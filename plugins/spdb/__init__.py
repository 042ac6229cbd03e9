"""SPDB bank-enterprise direct connect (浦发银企直联): single payment 8801 and result query 8804."""
