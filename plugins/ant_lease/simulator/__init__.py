"""The Ant Lease simulator's parts, one module per group of simulated Alipay methods."""
