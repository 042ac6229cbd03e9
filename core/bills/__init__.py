"""Loan and reimbursement bills (seed 002): the rules, one module per concern.

A loan bill (借款单) pays the applicant the loan amount; a reimbursement bill (报销单) pays the
reimbursement amount R less the write-off W (核销金额) that repays the applicant's open loans,
so the real amount (实际报销交易金额) is R - W, and 0 <= W <= R. Either bill is paid by the bank
(SPDB bank-enterprise, company card -> applicant's card) or by system transfer (finance pays
outside the platform). In both modes the platform books the same ledger flows.

Where each rule lives: `model` (the bill, its commands, its life), `codes` (the named checks
and their error codes), `checks` (acceptance checks), `risk` (limits and risk controls),
`plan` (the business transaction), `actions` (差错处理 preconditions).

Glossary (seed term -> name here):
    借款单 / 报销单                     -> BillKind.LOAN / REIMBURSEMENT, LoanCommand / ReimbursementCommand
    报销金额 / 借款金额                 -> ReimbursementCommand.reimbursement_amount / LoanCommand.amount
    核销金额, 核销记录明细              -> write_off_total, WriteOffLine
    实际报销交易金额                    -> real_amount(), BusinessPlan.paid_amount
    待核销金额 (借款单 borrowing_bill)  -> LoanView.open_amount
    支付方式 pay_type: 银企 / 系统转账  -> PayMode.BANK / TRANSFER
    申请人 / 申请人账号                 -> ApplicantView, applicant_account
    支付方 / 接收方银行卡号             -> payer_card_no / payee_card_no
    汇率                                -> exchange_rate (CNY per unit of the bill's currency)
    转入 / 转出流水, 核销转出流水       -> BusinessPlan.postings (LOAN, REIMBURSEMENT, WRITE_OFF)
    转账日志 / 核销日志                 -> TransferLog / WriteOffLog
    银企包 packet_id                    -> bank packet id, renewed by RESEND_BANK
    差错处理                            -> ErrorAction, check_action
"""
