"""The composition root: the one place that knows the concrete classes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pluggy
import sqlalchemy as sa
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from core.approvals.model import ApprovalAction
from core.ids import utcnow
from core.lease.plan import RetrySchedule
from core.ledger import AccountView
from core.payments.routing import Router
from core.usecases.bills.actions import BillActions
from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.checking import BillChecker
from core.usecases.bills.context import BillContext
from core.usecases.bills.intake import BillIntake
from core.usecases.bills.listener import BillPaymentListener, DueBills
from core.usecases.bills.policy import BillPolicy
from core.usecases.bills.recovery import BillRecovery
from core.usecases.bills.sending import BillSending
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.callbacks import LeaseChannelEvents
from core.usecases.lease.channel import LeaseChannelCalls
from core.usecases.lease.close import LeaseClosing
from core.usecases.lease.collection import RentCollection
from core.usecases.lease.listener import LeasePaymentListener
from core.usecases.lease.orders import LeaseOrderService
from core.usecases.lease.policy import LeasePolicy
from core.usecases.lease.recovery import LeaseRecovery
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from core.usecases.ops.approval_runs import ApprovalRuns
from core.usecases.ops.approvals import Approvals
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.operator_resolve import OperatorResolution
from core.usecases.payments.policy import PaymentPolicy, QuerySchedule
from core.usecases.payments.service import PaymentService
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from core.usecases.payouts.listener import PayoutResultListener
from core.usecases.payouts.recovery import PayoutRecovery
from core.usecases.payouts.service import PayoutService
from core.usecases.payouts.sms import PayeeTexts
from core.usecases.trades.listener import TradePaymentListener
from core.usecases.trades.service import TradeService
from gateway.auth import NonceStore
from gateway.flowbuffer import FlowLogBuffer
from gateway.maker_checker import FundingExecutor, PayoutApprovalExecutor
from gateway.metrics import Metrics
from gateway.operators import OperatorService, password_hasher
from gateway.plugins import build_channels, build_plugin_manager
from gateway.settings import PaygateSettings, load_settings
from gateway.sms import LogSmsSender
from gateway.storage import card_vault
from gateway.storage.accounts import AccountStore
from gateway.storage.approvals import SqlApprovals, SqlAuditLog, SqlEscalatedPayments
from gateway.storage.engine import create_engine
from gateway.storage.operators import OperatorStore
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.queries.bills import BillQueries
from gateway.storage.queries.flow import FlowReader
from gateway.storage.queries.lists import ListQueries
from gateway.storage.queries.ops_lists import OpsListQueries
from gateway.storage.queries.outbox import OutboxAdmin
from gateway.storage.queries.payouts import PayoutQueries
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.trades import SqlTrades
from gateway.storage.uow import SqlUnitOfWork
from ports.channels import Channel, ChannelEventHandler, ChannelServices
from ports.notify import SmsSender
from ports.storage import Transactions


class EngineAccountDirectory:
    """The accounts read port handed to channel plugins."""

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    async def get_accounts(self, ids: list[str]) -> dict[str, AccountView]:
        return await self.store.views(ids)


def _sqlite_writer(settings: PaygateSettings) -> SqliteWriter | None:
    """The one writer of the embedded SQLite database (None on PostgreSQL)."""
    if not settings.database.is_sqlite:
        return None
    path = sa.engine.make_url(settings.database.url).database or ""
    return SqliteWriter(path, synchronous=settings.database.sqlite_synchronous)


def _transactions(
    writer: SqliteWriter | None,
    engine: AsyncEngine,
    subscribers: frozenset[str],
    events_committed: asyncio.Event,
) -> Transactions:
    """A ledger payment's transaction: the SQLite writer's group commit, or on PostgreSQL one
    statement over the driver connection (gateway/storage/pg_ledger.py)."""
    if writer is None:
        return PgTransactions(engine, subscribers, events_committed)
    return WriterTransactions(writer, subscribers, events_committed)


def _metrics(flow: FlowLogBuffer, transactions: Transactions) -> Metrics:
    batches = transactions.batches if isinstance(transactions, PgTransactions) else None
    return Metrics(flow, batches)


def _subscribers(settings: PaygateSettings) -> frozenset[str]:
    """Apps that take webhooks: events are queued for them only (see docs/OPERATIONS.md)."""
    return frozenset(app_id for app_id, app in settings.apps.items() if app.notify_url)


def _router(settings: PaygateSettings, channels: Mapping[str, Channel]) -> Router:
    return Router(settings.routing.rules, {code: c.capability for code, c in channels.items()})


def _schedules(settings: PaygateSettings, channels: Mapping[str, Channel]) -> dict[str, QuerySchedule]:
    """Per channel: `channels.<code>.query_schedule_seconds` in settings, else the plugin's own."""
    after = settings.workers.escalated_query_interval_seconds
    out = {}
    for code, channel in channels.items():
        steps = (
            settings.channels.get(code, {}).get("query_schedule_seconds") or channel.query_schedule_seconds
        )
        if steps:
            out[code] = QuerySchedule(tuple(int(s) for s in steps), after)
    return out


def _default_schedule(settings: PaygateSettings) -> QuerySchedule:
    return QuerySchedule(
        tuple(settings.workers.query_schedule_seconds),
        settings.workers.escalated_query_interval_seconds,
    )


def _payment_policy(settings: PaygateSettings, channels: Mapping[str, Channel]) -> PaymentPolicy:
    return PaymentPolicy(
        max_amounts=dict(settings.limits.max_payment_amount),
        schedules=_schedules(settings, channels),
        default_schedule=_default_schedule(settings),
        app_pay_methods={
            app_id: frozenset(app.pay_methods)
            for app_id, app in settings.apps.items()
            if app.pay_methods is not None
        },
    )


def _bill_policy(settings: PaygateSettings, channels: Mapping[str, Channel]) -> BillPolicy:
    bills = settings.bills
    # the accounts the channels offering the bills' pay method pay from: a bill's payer card
    # must be one of them (PAYER_CARD_NOT_BANK_ACCOUNT)
    bank_accounts = frozenset(
        account
        for channel in channels.values()
        if bills.pay_method in channel.pay_methods
        for account in channel.payer_accounts
    )
    return BillPolicy(
        limits=replace(bills.limits(), bank_payer_accounts=bank_accounts),
        payer_card_no=bills.payer_card_no,
        pay_method=bills.pay_method,
        business_type=bills.business_type,
        resubmit_after=timedelta(seconds=bills.resubmit_after_seconds),
    )


def _lease_policy(settings: PaygateSettings) -> LeasePolicy:
    lease = settings.lease
    return LeasePolicy(
        pay_method=lease.pay_method,
        business_type=lease.business_type,
        retry=RetrySchedule(tuple(lease.retry_schedule_seconds)),
        resync_after=timedelta(seconds=lease.resync_after_seconds),
        resubmit_after=timedelta(seconds=lease.resubmit_after_seconds),
        rent_before_finalise=frozenset(lease.rent_before_finalise_templates),
    )


def _payee_texts(sender: SmsSender, metrics: Metrics) -> PayeeTexts:
    return PayeeTexts(sender, counted=lambda result: metrics.sms.labels(result=result).inc())


def _engine(settings: PaygateSettings) -> AsyncEngine:
    # the tables' encrypted columns read and write through the process's card vault
    card_vault.install(card_vault.vault_from_settings(settings.security))
    return create_engine(settings.database)


def _secrets(settings: PaygateSettings) -> dict[str, str]:
    return {app_id: app.secret.get_secret_value() for app_id, app in settings.apps.items()}


def _approval_runs(approvals: Approvals, settings: PaygateSettings, payments: PaymentService) -> ApprovalRuns:
    """A worker's claim on an approval outlasts its channel calls (a query, a cancel, a query)."""
    lease = settings.workers.lease_seconds + 3 * payments.access.timeout
    return ApprovalRuns(approvals, timedelta(seconds=lease))


def _operator_resolution(payments: PaymentService, escalations: SqlEscalatedPayments) -> OperatorResolution:
    results = payments.results
    return OperatorResolution(results.storage, payments.access, results.trail, results, escalations)


class Container(containers.DeclarativeContainer):
    settings: providers.Provider[PaygateSettings] = providers.Singleton(load_settings)
    clock = providers.Object(utcnow)

    engine: providers.Provider[AsyncEngine] = providers.Singleton(_engine, settings)
    sqlite_writer = providers.Singleton(_sqlite_writer, settings)
    subscribers = providers.Singleton(_subscribers, settings)
    # set by every commit that queued outbox events: it wakes this process's webhook deliverer
    events_committed = providers.Singleton(asyncio.Event)
    uow = providers.Factory(SqlUnitOfWork, engine, sqlite_writer, subscribers, events_committed)
    # reads take no writer's turn (SQLite WAL readers never block the writer)
    read_uow = providers.Factory(SqlUnitOfWork, engine, None, subscribers)
    transactions = providers.Singleton(_transactions, sqlite_writer, engine, subscribers, events_committed)
    flow = providers.Singleton(FlowLogBuffer, uow.provider, sqlite_writer)
    metrics = providers.Singleton(_metrics, flow, transactions)
    flow_reader = providers.Singleton(FlowReader, engine)
    nonces = providers.Singleton(
        NonceStore,
        uow.provider,
        providers.Factory(lambda s: timedelta(seconds=s.auth.max_clock_skew_seconds), settings),
        sqlite_writer,
    )
    app_secrets = providers.Singleton(_secrets, settings)
    # operators of /ops: authentication (middleware, console) and management (CLI)
    operators = providers.Singleton(
        OperatorService,
        providers.Singleton(OperatorStore, engine, uow.provider),
        providers.Factory(password_hasher, settings.provided.ops),
        clock,
    )

    accounts = providers.Singleton(AccountStore, engine, uow.provider, flow, clock)
    account_directory = providers.Singleton(EngineAccountDirectory, accounts)
    channel_services = providers.Singleton(ChannelServices, accounts=account_directory)

    plugin_manager: providers.Provider[pluggy.PluginManager] = providers.Singleton(build_plugin_manager)
    channels: providers.Provider[dict[str, Channel]] = providers.Singleton(
        build_channels, plugin_manager, settings.provided.channels, channel_services
    )
    router = providers.Singleton(_router, settings, channels)

    # payouts: moves a payout with its payment, so it exists before PaymentService
    # the notification port: replace with a real SMS gateway's sender (override `sms_sender`)
    sms_sender: providers.Provider[SmsSender] = providers.Singleton(LogSmsSender)
    payout_listener = providers.Singleton(
        PayoutResultListener, providers.Singleton(_payee_texts, sms_sender, metrics)
    )
    # bills: moves a bill with its bank payment, so it too exists before PaymentService
    bill_due = providers.Singleton(DueBills)
    bill_listener = providers.Singleton(BillPaymentListener, bill_due)
    # lease: moves a rent period with its deduction, so it too exists before PaymentService
    lease_policy = providers.Factory(_lease_policy, settings)
    lease_listener = providers.Singleton(LeasePaymentListener, lease_policy)
    # trades: moves a trade with its payment on an external channel, so it too exists before
    # PaymentService (it tells the ledger's payments, which it does not follow, by the channels)
    trade_listener = providers.Singleton(TradePaymentListener, channels)
    payments = providers.Singleton(
        PaymentService,
        providers.Factory(PaymentStorage, uow.provider, read_uow.provider, transactions, accounts),
        providers.Factory(ChannelAccess, router, channels),
        providers.Factory(_payment_policy, settings, channels),
        providers.Factory(PaymentTrail, flow, clock),
        listeners=providers.List(payout_listener, bill_listener, lease_listener, trade_listener),
    )
    # set when a request made a payment due for query now (requery_bank): the query poller wakes
    query_wake = providers.Singleton(asyncio.Event)
    # maker-checker and the audit log of /ops actions
    audit_log = providers.Singleton(SqlAuditLog, uow.provider)
    operator_resolution = providers.Singleton(
        _operator_resolution, payments, providers.Singleton(SqlEscalatedPayments, engine)
    )
    ops_lists = providers.Singleton(OpsListQueries, engine)
    outbox_admin = providers.Singleton(OutboxAdmin, engine, uow.provider, flow, clock)
    http_session: providers.Provider[aiohttp.ClientSession] = providers.Dependency(
        instance_of=aiohttp.ClientSession
    )

    # seed-003 trades, paid through the payment service
    trades = providers.Singleton(
        TradeService, providers.Singleton(SqlTrades, uow.provider, read_uow.provider), payments, clock
    )

    # payouts
    payouts = providers.Singleton(
        PayoutService,
        uow.provider,
        payments,
        flow,
        reads=read_uow.provider,
        clock=clock,
    )
    payout_queries = providers.Singleton(PayoutQueries, engine)
    list_queries = providers.Singleton(ListQueries, engine)
    payout_recovery = providers.Singleton(PayoutRecovery, payouts.provided.ctx)
    # maker-checker: what a confirmed proposal runs, per action
    approvals = providers.Singleton(
        Approvals,
        providers.Singleton(SqlApprovals, engine, uow.provider),
        providers.Dict(
            {
                ApprovalAction.RESOLVE_PAYMENT: operator_resolution,
                ApprovalAction.FUND_ACCOUNT: providers.Factory(FundingExecutor, accounts),
                ApprovalAction.APPROVE_PAYOUT: providers.Factory(PayoutApprovalExecutor, payouts),
            }
        ),
        clock,
        checks=providers.Dict({ApprovalAction.RESOLVE_PAYMENT: operator_resolution}),
    )
    # one instance: it works on the approvals' channel calls, off the operators' requests
    approval_runs = providers.Singleton(_approval_runs, approvals, settings, payments)

    # bills
    bill_context = providers.Singleton(
        BillContext,
        uow.provider,
        flow,
        providers.Factory(_bill_policy, settings, channels),
        bill_due,
        queries=query_wake,
        reads=read_uow.provider,
        clock=clock,
    )
    bill_business = providers.Singleton(BillBusiness, bill_context)
    bill_bank = providers.Singleton(BillBank, bill_context, payments, bill_business)
    bill_checker = providers.Singleton(BillChecker, bill_context)
    bill_intake = providers.Singleton(BillIntake, bill_context, bill_checker, bill_business)
    bill_actions = providers.Singleton(
        BillActions, bill_context, bill_checker, bill_intake, bill_bank, bill_business
    )
    bill_recovery = providers.Singleton(BillRecovery, bill_context, bill_business)
    # one instance: its queue holds the attempts this process committed, for its send worker
    bill_sending = providers.Singleton(BillSending, bill_context, bill_bank)
    bill_queries = providers.Singleton(BillQueries, engine, flow_reader)

    # lease: the orders and the calls to their channel, shared by the lease use cases
    lease_book = providers.Singleton(LeaseBook, uow.provider, flow, reads=read_uow.provider, clock=clock)
    lease_calls = providers.Singleton(LeaseChannelCalls, lease_book, payments)
    lease_orders = providers.Singleton(LeaseOrderService, lease_book, lease_calls, payments, lease_policy)
    # one instance: it knows which orders this process is finalising
    lease_signing = providers.Singleton(
        ContractSigning,
        lease_book,
        lease_calls,
        rent_before_finalise=lease_policy.provided.rent_before_finalise,
    )
    lease_withholding = providers.Singleton(WithholdingService, lease_book, lease_calls, lease_signing)
    lease_closing = providers.Singleton(LeaseClosing, lease_book, lease_calls)
    lease_collection = providers.Singleton(RentCollection, lease_book, payments, lease_policy)
    lease_events = providers.Singleton(LeaseChannelEvents, lease_book, lease_signing, lease_withholding)
    # one instance: it keeps the worker's back-off
    lease_recovery = providers.Singleton(
        LeaseRecovery, lease_book, lease_orders, lease_signing, lease_collection, lease_policy
    )

    # verified channel callbacks that are not about a payment, by the workflow owning them
    channel_event_handlers: providers.Provider[list[ChannelEventHandler]] = providers.List(lease_events)
