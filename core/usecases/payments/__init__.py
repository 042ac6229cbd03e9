"""Payment use cases: submit a payment, apply a channel's result, resolve an unknown outcome."""
