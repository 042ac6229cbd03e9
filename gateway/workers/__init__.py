"""Background workers, one module each, and the loop they share."""
