"""HTTP request bodies, one module per workflow, all on `base.Body`."""
