"""The contracts between the core and the outside: channel ports, storage, notifier, hooks."""
