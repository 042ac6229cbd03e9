"""The seed-003 general pay transaction: pure rules that validate a command and plan its ledger flows.

The buyer pays the seller `cash_amount`. A real-time trade credits the seller's available
sub-account (1) at once; an asynchronous one credits the pending sub-account (3) now and leaves a
deferred "trade" settlement that moves it to available. The seller's fee is deducted at source
(坐扣) or collected later (后收); a real-time fee settlement is booked with the trade, an
asynchronous one is a deferred "fee" settlement ordered after the trade's, so the seller has
the money by then. Refused: a real-time fee that is collected later, and an asynchronous trade
with a real-time fee. With upper merchants (an agent chain of at most two levels) the fee
travels seller -> middle -> top -> wallet, each hop keeping its margin: the wallet (the fee
account) receives the top merchant's `fee_amount`; a top merchant's `fee_plus_amount` equals
what the middle passes up (0 when it is the only level). An optional buyer fee is paid by the
buyer at once. Profit shares leave the seller in the trade's settlement and may not exceed what
the seller keeps after a deducted fee. Marketing is carried into the plan, never booked.

Glossary (seed term -> name here):
    buyer, seller, cash_amount             -> GeneralPayCommand fields of the same names
    settlement_type 实时 / 异步             -> SettlementType.REALTIME / ASYNC
    sub_account_type 1 / 3                 -> SubAccount.AVAILABLE / PENDING (core.ledger)
    fee_amount, fee_account 收益账户        -> FeeTerms.fee_amount, FeeTerms.fee_account_id
    fee_type 1 坐扣 / 2 后收                -> FeeType.DEDUCTED / COLLECT_LATER
    fee_settlement_type                    -> FeeTerms.fee_settlement_type
    pay_mode (has_pay_mode)                -> FeeTerms.pay_mode
    buyer_fee_amount, buyer_fee_user_id    -> BuyerFee.amount, BuyerFee.account_id
    up_merchants / merchant_user, up1, up2 -> upper_merchants, MerchantLevel.MIDDLE / TOP
    fee_plus_amount                        -> UpperMerchant.fee_plus_amount
    solution_user (fee solution)           -> GeneralPayCommand.fee_solution
    钱包收取的手续费                          -> GeneralPayPlan.wallet_fee
    billing_solution_info 分账方案          -> profit_shares (ProfitShare)
    mkt_solution / ac_solution 营销方案     -> MarketingSolution

Where: model.py (the command, its terms, the plan, every error code), checks.py (amounts and
accounts), fees.py (the fee and the upper merchants' chain), profit_sharing.py, plan.py
(`plan_general_pay`: the flows booked now and the ordered deferred settlements).
"""
