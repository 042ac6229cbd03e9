"""Loan and reimbursement bills (seed 002): intake, bank attempts, business processing, 差错处理.

A bill is checked (acceptance checks, then risk controls, `core.bills`) and stored whatever the
outcome. An accepted bill is paid by the bank (bank mode: the request is answered once the
attempt is saved, bank_submitted, and the send worker makes the call; each attempt is a
payment routed by pay method, so to the SPDB channel, whose listener moves the bill inside the
payment's own transaction) or goes straight to business processing (transfer mode: finance
pays outside the platform). Business processing is one transaction: ledger flows, transfer
log, write-off logs, conditional loan updates, the final state and the `bill.completed` event.
The flow log is written outside it, through the buffered sink.

Events to the caller app (outbox): `bill.completed` when a bill completes; `bill.failed` when it
stops at bank_failed or business_failed and waits for an operator — it may still complete
later. A bill refused by a check is answered at once, so it sends no event.

One module per group of operations: `intake` (submit, repeats), `checking` (the checks on
current data, for intake and revalidate), `bank` (attempts, the bank's answer, requery and
recovery of an attempt), `business` (the business transaction), `actions` (差错处理),
`recovery` (the bill worker's round: business due), `sending` (the send worker's round: each
bank attempt claimed, then its 8801 sent, so no caller waits on the bank), `listener` (follows
the bank payments), `views` (answer
shapes), `events` (outbox events); `context` holds what they share, `policy` their settings,
`requests` what callers send.
"""
