"""Payout use cases: batch application, finance review, paying through a payment, results."""
