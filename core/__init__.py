"""The payment domain: money, ledger, payments and their rules, free of any framework."""
