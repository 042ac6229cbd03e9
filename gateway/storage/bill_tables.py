"""Row tables of bills (借款单 borrowing_bill / 报销单 refund_bill) and write-off logs, on the one `metadata`.

The seed's other bill tables live where the platform already keeps that data: the bill's bank
attempts are payments (`payments`, bill_pay_request), the bank packets are `channel_exchanges`
(bank_req_source, bank_res_parsing_source, bank_res_error), the transfer log (转账日志) is
`transfer_logs` with `payment_id` = the bill id, and the flow log is `pay_life_log`.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import EncryptedNumber, Json, UTCDateTime, metadata, serial_id

bills = sa.Table(
    "bills",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # loan | reimbursement
    sa.Column("bill_code", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("pay_mode", sa.String(16), nullable=False),  # as requested: bank | transfer | other
    sa.Column("applicant_account", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # loan amount, or reimbursement R
    sa.Column("write_off_total_minor", sa.BigInteger, nullable=False),
    sa.Column("write_offs", Json, nullable=False),  # [{loan_bill_id, amount_minor}]
    sa.Column("exchange_rate", sa.String(40), nullable=True),  # a decimal string, exact
    sa.Column("payer_card_no", EncryptedNumber(), nullable=True),
    sa.Column("payee_card_no", EncryptedNumber(), nullable=True),
    sa.Column("payee_name", sa.String(128), nullable=True),
    sa.Column("payee_bank_name", sa.String(128), nullable=True),
    sa.Column("payee_bank_no", sa.String(12), nullable=True),  # CNAPS 联行号 of the payee's bank
    sa.Column("memo", sa.String(256), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(512), nullable=True),
    sa.Column("failure_field", sa.String(128), nullable=True),
    # how the current attempt's bank failure is known (definite_refusal | final_8804); NULL: not verified
    sa.Column("bank_failure_evidence", sa.String(24), nullable=True),
    # a completed loan bill: the part still to be written off, and whether any is left
    sa.Column("loan_open_minor", sa.BigInteger, nullable=True),
    sa.Column("loan_state", sa.String(16), nullable=True),
    # the part of loan_open_minor that accepted reimbursements reserved (written off by their business)
    sa.Column("loan_reserved_minor", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    # the bill worker sending the current attempt (8801), and until when its claim holds
    sa.Column("attempt_claimed_by", sa.String(128), nullable=True),
    sa.Column("attempt_claimed_until", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("app_id", "bill_code", name="uq_bills_app_code"),
    sa.Index("ix_bills_status_updated_at", "status", "updated_at"),
    sa.Index("ix_bills_applicant_account_kind", "applicant_account", "kind"),
    # the lists, newest first (migration 0010_list_indexes says which serves which)
    sa.Index("ix_bills_app_id_created_at_id", "app_id", "created_at", "id"),
    sa.Index("ix_bills_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_bills_created_at_id", "created_at", "id"),
)

# 核销日志 writed_off_log: one line per loan a reimbursement wrote off, in its business transaction
write_off_logs = sa.Table(
    "write_off_logs",
    metadata,
    serial_id(),
    sa.Column("bill_id", sa.String(40), nullable=False, index=True),
    sa.Column("loan_bill_id", sa.String(40), nullable=False, index=True),
    sa.Column("ledger_txn_id", sa.String(40), sa.ForeignKey("ledger_txns.id"), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
