"""The console's one message catalogue: every label in Chinese (the default) and English,
statuses and actions included. Templates call `t(key)`; a missing key shows the key itself."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# key: (中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("支付网关运营台", "Paygate console"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "login_name": ("账号", "Login"),
    "password": ("密码", "Password"),
    "login_failed": ("账号或密码错误", "Wrong login or password"),
    "session_ended": (
        "会话已结束（超时或已退出），请重新登录；未提交的操作没有执行",
        "Your session has ended (timed out or logged out): log in again; nothing unsent was done",
    ),
    "too_many_logins": ("登录失败次数过多，请稍后再试", "Too many failed logins; try again later"),
    "csrf_refused": (
        "表单已失效（缺少或错误的 CSRF 令牌），请刷新页面",
        "The form's CSRF token is missing or wrong; reload the page",
    ),
    "forbidden": ("无权执行此操作", "You may not do this"),
    "not_found": ("未找到", "Not found"),
    "no_such_page": (
        "没有这个页面（表单的地址不能直接打开），未执行任何操作",
        "There is no such page (a form's address cannot be opened as a page): nothing was done",
    ),
    "error": ("出错了", "Something is wrong"),
    "internal": (
        "系统内部错误，操作可能未完成；请把下面的追踪号告知技术支持",
        "An internal error: the action may not have been done; quote the trace id below to support",
    ),
    "dashboard": ("待办总览", "Needs a person now"),
    "payments": ("支付", "Payments"),
    "bills": ("单据", "Bills"),
    "payouts": ("代付", "Payouts"),
    "lease_orders": ("租赁订单", "Lease orders"),
    "notifications": ("通知", "Webhooks"),
    "report": ("代付分析", "Payout report"),
    "review_queue": ("代付审核", "Payout review"),
    "approvals": ("待复核", "Approvals"),
    "action": ("操作", "Action"),
    "subject": ("对象", "Subject"),
    "proposal": ("提议", "Proposal"),
    "proposed_by": ("提议人", "Proposed by"),
    "resolve": ("人工确认结果", "Resolve the outcome"),
    "resolve_help": (
        "结果未知且已升级的支付：提交证据与结论，由另一位财务人员复核后执行",
        "An escalated payment whose outcome is unknown: give the evidence and the outcome; a "
        "second finance operator confirms it before it is applied",
    ),
    "decision": ("结论", "Outcome"),
    "evidence": ("证据", "Evidence"),
    "currency": ("币种", "Currency"),
    # list columns and filters
    "app_id": ("应用", "App"),
    "escalated": ("已升级人工处理", "Escalated"),
    "needs_action": ("需人工处理", "Needs action"),
    "pay_mode": ("支付模式", "Pay mode"),
    "period_status": ("租期状态", "Period status"),
    "serial_no": ("流水号", "Serial no."),
    "bill_code": ("单据编号", "Bill code"),
    "out_order_no": ("外部订单号", "Order no."),
    "payee": ("收款方", "Payee"),
    "last_error": ("最近错误", "Last error"),
    "choice.true": ("是", "yes"),
    "choice.false": ("否", "no"),
    "choice.bank": ("银行", "bank"),
    "choice.transfer": ("转账", "transfer"),
    "approval.resolve_payment": ("人工确认支付结果", "Resolve a payment's outcome"),
    "approval.approve_payout": ("大额代付审批", "Approve a large payout"),
    "approval.fund_account": ("账户充值", "Fund an account"),
    "note": ("备注", "Note"),
    "propose": ("提交复核", "Propose"),
    "evidence_required": ("请选择结论并填写证据", "Choose the outcome and give the evidence"),
    "dash.payouts_review": ("待审核代付", "Payouts waiting for review"),
    "dash.bills_action": ("失败或未知的单据", "Bills failed or unknown"),
    "dash.escalated": ("升级处理的支付", "Escalated payments"),
    "dash.failing_hooks": ("投递失败的通知", "Failing webhooks"),
    "dash.dead_hooks": ("投递终止的通知", "Dead webhooks"),
    "dash.failed_periods": ("扣款失败的租期", "Failed rent periods"),
    "dash.ledger": ("账务核对", "Ledger check"),
    "transactions_checked": ("已核对交易", "transactions checked"),
    "ledger.ok": ("平衡", "Balanced"),
    "ledger.bad": ("不平衡", "Out of balance"),
    "filter": ("筛选", "Filter"),
    "any": ("全部", "Any"),
    "next_page": ("下一页", "Next page"),
    "prev_page": ("上一页", "Previous page"),
    "no_items": ("没有记录", "Nothing here"),
    "status": ("状态", "Status"),
    "amount": ("金额", "Amount"),
    "created_at": ("创建时间", "Created"),
    "app": ("应用", "App"),
    "channel": ("渠道", "Channel"),
    "details": ("详情", "Details"),
    "timeline": ("流程时间线", "Flow timeline"),
    "exchanges": ("银行报文与渠道交互", "Bank packets and channel exchanges"),
    "webhooks_sent": ("已发送的通知", "Webhooks sent"),
    "approve": ("通过", "Approve"),
    "reject": ("驳回", "Reject"),
    "approve_selected": ("批量通过", "Approve selected"),
    "reject_selected": ("批量驳回", "Reject selected"),
    "reason": ("原因", "Reason"),
    "reason_required": ("驳回必须填写原因", "A rejection needs a reason"),
    "nothing_selected": ("未勾选任何代付，未执行任何操作", "No payout was ticked: nothing was done"),
    "confirm": ("确认", "Confirm"),
    "cancel": ("取消", "Cancel"),
    "confirm_action": ("确认执行此操作？", "Really do this?"),
    "replay": ("重新投递", "Replay"),
    "done": ("已完成", "Done"),
    "back": ("返回", "Back"),
    "action_done": ("已执行", "Done"),
    "results": ("处理结果", "Results"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_items": ("导出明细", "Export items"),
    "from": ("起始日", "From"),
    "to": ("截止日", "To"),
    "group_by": ("分组", "Group by"),
    "count": ("笔数", "Count"),
    "totals": ("合计", "Totals"),
    "node": ("节点", "Node"),
    "outcome": ("结果", "Outcome"),
    "duration": ("耗时", "Took"),
    "actor": ("操作人", "By"),
    "field": ("字段", "Field"),
    "value": ("值", "Value"),
    "actions": ("操作", "Actions"),
    "event_type": ("事件", "Event"),
    "attempts": ("尝试次数", "Attempts"),
    "language": ("English", "中文"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "roles": ("角色", "Roles"),
    "status.created": ("已创建", "created"),
    "status.processing": ("处理中", "processing"),
    "status.unknown": ("结果未知", "unknown"),
    "status.succeeded": ("成功", "succeeded"),
    "status.failed": ("失败", "failed"),
    "status.received": ("已接收", "received"),
    "status.validation_failed": ("校验失败", "validation failed"),
    "status.risk_rejected": ("风控拒绝", "risk rejected"),
    "status.accepted": ("已受理", "accepted"),
    "status.bank_submitted": ("已提交银行", "bank submitted"),
    "status.bank_processing": ("银行处理中", "bank processing"),
    "status.bank_unknown": ("银行结果未知", "bank unknown"),
    "status.bank_succeeded": ("银行支付成功", "bank succeeded"),
    "status.bank_failed": ("银行支付失败", "bank failed"),
    "status.transfer_pending": ("待转账", "transfer pending"),
    "status.business_failed": ("业务处理失败", "business failed"),
    "status.completed": ("已完成", "completed"),
    "status.pending_review": ("待审核", "pending review"),
    "status.approved": ("已通过", "approved"),
    "status.rejected": ("已驳回", "rejected"),
    "status.proposed": ("已提交复核，待第二位财务确认", "proposed: waiting for a second finance operator"),
    "status.paying": ("付款中", "paying"),
    "status.returned": ("已退回", "returned"),
    "status.synced": ("已同步", "synced"),
    "status.sync_failed": ("同步失败", "sync failed"),
    "status.closing": ("关闭中", "closing"),
    "status.closed": ("已关闭", "closed"),
    "status.pending": ("待处理", "pending"),
    "status.confirmed": ("已确认并执行", "confirmed and done"),
    "status.checking": ("渠道查询中，稍后可确认", "checking at the channel: confirmable shortly"),
    "status.executing": ("已确认，渠道执行中", "confirmed: running at the channel"),
    "status.collecting": ("扣款中", "collecting"),
    "status.paid": ("已支付", "paid"),
    "status.cancelled": ("已取消", "cancelled"),
    "status.failing": ("投递失败重试中", "failing"),
    "status.delivered": ("已投递", "delivered"),
    "status.dead": ("投递终止", "dead"),
    "action.revalidate": ("重新校验", "Revalidate"),
    "action.resend_bank": ("发起银行支付", "Resend to the bank"),
    "action.requery_bank": ("发起银行查询", "Query the bank"),
    "action.rerun_business": ("发起业务处理", "Rerun business"),
    "action.switch_to_transfer": ("更新支付模式为转账", "Switch to transfer"),
    # refusals, by the error's code (else by its HTTP status): the operator's language first,
    # the use case's own (English) words below it
    "error.ILLEGAL_TRANSITION": (
        "状态已变化，此操作不再适用（可能已有其他人处理）",
        "Its state has changed: this action no longer applies (someone may have acted already)",
    ),
    "error.STALE_FORM": (
        "打开此页面后对象已被更改（可能已有其他人处理），本次未执行，请查看最新状态",
        "It changed after this page was opened (someone may have acted already): nothing was done; "
        "see where it stands now",
    ),
    "error.APPROVAL_OPEN": (
        "已有相同的提议在等待复核，未重复提交",
        "The same proposal is already waiting for its second operator: nothing new was proposed",
    ),
    "error.NOTIFICATION_NOT_STUCK": (
        "该通知已重新排队或已投递，未再次重投",
        "This webhook is queued again or delivered already: it was not replayed again",
    ),
    "error.APPROVAL_DECIDED": (
        "该提议已被处理，未再执行",
        "This proposal was already decided: nothing was done",
    ),
    "error.APPROVAL_CHECKING": (
        "渠道查询中，暂不能确认",
        "Still checking at the channel: not yet confirmable",
    ),
    "error.SAME_OPERATOR": (
        "不能确认自己的提议，须由另一位操作员确认",
        "You proposed this: another operator must confirm it",
    ),
    "error.ROLE_REQUIRED": ("无权执行此操作", "You may not do this"),
    "error.NOT_ESCALATED": (
        "该支付未升级或已有最终结果，不能人工确认",
        "This payment is not escalated, or its outcome is already final",
    ),
    "error.ACTION_PRECONDITION_FAILED": (
        "单据当前状态不允许此操作",
        "The bill's state does not allow this action",
    ),
    "error.BILL_IN_PROCESS": ("单据正在处理中，请稍后再试", "The bill is being processed; try again shortly"),
    "error.AUDIT_UNAVAILABLE": (
        "审计日志暂不可写，操作未执行，请稍后再试",
        "The audit log cannot be written: nothing was done; try again later",
    ),
    "error.http_400": ("输入有误", "The input is not valid"),
    "error.http_403": ("无权执行此操作", "You may not do this"),
    "error.http_404": ("未找到", "Not found"),
    "error.http_409": ("与当前状态冲突，未执行", "It conflicts with the current state: nothing was done"),
    "error.http_422": ("业务规则不允许", "A business rule refuses it"),
    "error.http_503": ("服务暂不可用，请稍后再试", "Unavailable for now; try again later"),
}


def language_of(requested: str | None) -> str:
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE


def error_key(code: str, http_status: int) -> str:
    """The catalogue key of a refusal: its code's, else its HTTP status's, else `error`."""
    for key in (f"error.{code}", f"error.http_{http_status}"):
        if key in MESSAGES:
            return key
    return "error"


def translator(lang: str) -> Callable[[str], str]:
    """`t(key)` in the language; an unknown key is shown as it is (a status not yet listed)."""
    index = LANGUAGES.index(language_of(lang))

    def t(key: str) -> str:
        found = MESSAGES.get(key)
        return found[index] if found else key.split(".", 1)[-1]

    return t
