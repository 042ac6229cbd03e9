"""In-memory fakes of the ports, for use-case tests; the storage contract suite proves them."""
