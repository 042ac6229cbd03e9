"""Seed-003 trades: created with their terms, read, and paid once with the request's overrides."""
