"""The operators' web console at /console: server-rendered pages over the same use cases and
role table as /ops (docs/CONSOLE.md)."""
