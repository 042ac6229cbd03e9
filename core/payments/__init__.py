"""The payment domain: the payment entity, its state machine and the routing rules."""
