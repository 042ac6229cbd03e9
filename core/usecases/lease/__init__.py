"""Lease use cases (seed 000), one module per group of operations on a lease order: `orders`
(sync the pre-order, read it, the channel's view), `signing` (the contract and 落签),
`withholding` (the agreement, unsign, the plan, the async unsign confirmation), `collection`
(rent deductions per period) and `listener` (the periods follow their payments), `callbacks`
(the channel's verified events), `close`, and `recovery` (the worker's round). They share `book`
(the orders, read and changed under a version check) and `channel` (calls to the order's
channel); `views` shapes every answer and event payload."""
