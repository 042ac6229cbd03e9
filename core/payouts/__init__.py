"""Outward payments (对外支付, seed 001): the payout, its review state machine, the check of
each applied item, and the grouping rules of the payout report.

A caller app applies for payouts in a batch; every item is checked on its own and stored as a
payout waiting for finance review (财务审核). An approved payout is paid through a channel; a
rejected one never is. Every payout keeps its source platform (the app, plus an optional
label) and its fine-grained reason (type + reason), so compensation data can be analysed
(seed §6).

Modules: `model` (the payout, its application and state machine), `items` (the applied item's
shape), `checks` (the rules each item must pass), `payees` (payee accounts), `report` (the
analysis report). Channel plugins import the payee helpers from `payees`.
"""
