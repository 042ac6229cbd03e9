"""Use cases: plain functions and services over the ports (the one part of core that knows ports)."""
