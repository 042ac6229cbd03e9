"""A channel simulator's memory kept in a small SQLite file, so a restarted simulator still
knows its orders (a library shared by the simulators: no entry point, no hooks)."""
