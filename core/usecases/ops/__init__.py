"""Operators' use cases that are about no one workflow: approvals (maker-checker)."""
