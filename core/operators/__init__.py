"""Operators of the /ops routes: people with roles, and which role each kind of action needs."""
