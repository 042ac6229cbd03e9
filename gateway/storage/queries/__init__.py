"""Read models: what the monitoring and operator routes read, outside any unit of work."""
