"""Read models: read-only queries for operators and reports, one module per workflow."""
