"""Helpers every workflow's use cases share: channel calls with a deadline, retries of a lost
conditional update, flow-log recording, and publishing outbox events."""
