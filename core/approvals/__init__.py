"""Maker-checker: actions one operator proposes and a second one confirms, and the audit record."""
