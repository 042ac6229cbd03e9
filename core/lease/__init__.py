"""Lease orders (蚂蚁租赁, seed 000): the order and its rent plan, the contract, withholding
agreement, plan and period state machines, the close preconditions and the retry schedule.

A lease order is the platform's contract (合约): every operation of the seed belongs to one
order (归属于具体订单). Its life:

    sync the pre-order (同步前置订单)       created -> synced | sync_failed
    pre-sign the contract (前置合同签署)     contract unsigned -> signing -> signed
        multi-party (多方落签): the template names the parties; signed when all have signed;
        a refused or expired signing may be started again
    withholding agreement (代扣签约)         agreement none -> signing -> signed
    finalise the contract (落签)             signed -> finalised, once the agreement is signed
    collect rent (代扣), period by period    pending -> collecting -> paid | failed -> collecting ...
    unsign (解除代扣)                         agreement signed -> unsigned (collection stops)
    cancel the plan (取消代扣计划, reason)    plan active -> cancelled; unpaid periods cancelled
    refuse an async unsign (异步解约确认)     recorded on the agreement, which stays signed
    close (关闭订单, reason)                  synced -> closed, only when the lease is fulfilled
        (every period paid) or the plan was cancelled for lease-to-sale (租转售) or a
        successful return (退租成功), and no deduction is in flight

Collection: a period is due from the start of its due date (Beijing time). It is collected
only while the order is synced, the plan active, the contract signed and the agreement signed.
Each attempt is one payment whose out_request_no is fixed by (order, period, attempt), so a
resubmission never pays twice, and a period never has two live attempts: a new attempt starts
only from `pending` or `failed`. An unknown outcome keeps the period `collecting` until a query
resolves it. A failed attempt is retried after `RetrySchedule.steps[attempts - 1]` seconds;
when the schedule runs out the period stays failed with no retry time.

Modules: `status` (states and state machines), `order` (the order and its moves), `rules`
(the preconditions of each operation), `parts` (periods, contract, agreement, plan, closure),
`request` (the pre-order's rules), `plan` (due days, retry schedule), `numbers` (agreement and
attempt numbers), `errors`.
"""
