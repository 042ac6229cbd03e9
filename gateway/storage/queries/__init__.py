"""Read models: what the gateway shows of its tables (operators' and callers' views)."""
