"""Typed settings: a TOML file (PAYGATE_CONFIG, default paygate.toml) overridden by PAYGATE_* env."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.bills.risk import BillLimits
from core.money import CURRENCY_EXPONENTS
from core.payments.routing import RoutingRule


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # the event loop of `paygate serve`: uvloop (faster sockets and callbacks) where installed
    event_loop: str = Field(default="auto", pattern="^(auto|uvloop|asyncio)$")


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///paygate.db"
    # Apply migrations at start-up; on by default for the embedded SQLite file.
    auto_migrate: bool | None = None
    # SQLite: FULL syncs the WAL on every commit (no committed payment lost on power loss).
    sqlite_synchronous: str = Field(default="FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")
    # PostgreSQL: connections kept open; recycled after pool_recycle_seconds. A burst beyond
    # pool_size waits for a connection, unless max_overflow allows more: those are opened for
    # the burst and closed as soon as they are returned to a full pool, and opening one costs
    # the server a backend and the driver its type introspection (measured: with 32 callers,
    # pool 20 + overflow 20 did 300 transfers/s, pool 20 + overflow 0 did 556/s). Size
    # pool_size to the concurrent requests of one process; processes x pool_size must stay
    # below the server's max_connections (docs/OPERATIONS.md).
    pool_size: int = Field(default=30, ge=1)
    max_overflow: int = Field(default=0, ge=0)
    pool_recycle_seconds: int = Field(default=1800, ge=60)
    echo: bool = False
    # PostgreSQL: a statement running longer is cancelled (None: the server's own setting)
    statement_timeout_seconds: float | None = Field(default=None, gt=0)
    # PostgreSQL: TLS to the server, as libpq's sslmode (None: the driver's default, `prefer`)
    sslmode: str | None = Field(
        default=None, pattern="^(disable|allow|prefer|require|verify-ca|verify-full)$"
    )
    # PostgreSQL: off behind PgBouncer in transaction mode (prepared statements do not survive
    # the server connection changing under the client)
    statement_cache: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


class AppSettings(_Section):
    """A caller app: it signs every request with `secret` and receives webhooks at notify_url."""

    secret: SecretStr
    notify_url: str | None = None
    name: str | None = None
    # the pay methods this app may use in its own POST /v1/payments (absent: every one that
    # routing opens to callers); others are refused with PAY_METHOD_NOT_ALLOWED
    pay_methods: list[str] | None = None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("an app secret needs at least 8 characters")
        return value


class MakerCheckerSettings(_Section):
    """Which money-moving /ops actions need a second operator (docs/ARCHITECTURE.md, maker-checker).
    Resolving an escalated payment always does: `resolve` cannot be turned off."""

    funding: bool = False
    # approving a payout of more than this amount (in its currency) needs a second finance operator
    payout_approval_over: Decimal = Field(default=Decimal("1000000.00"), ge=0)
    resolve: bool = True

    @model_validator(mode="after")
    def _resolve_always(self) -> MakerCheckerSettings:
        if not self.resolve:
            raise ValueError("ops.maker_checker.resolve cannot be turned off: resolving needs two operators")
        return self


class OpsSettings(_Section):
    """Operators of /ops (stored in the database, managed with `paygate operators`)."""

    maker_checker: MakerCheckerSettings = Field(default_factory=MakerCheckerSettings)

    # create one demo operator per role at start-up (README.md: local trials only)
    demo_operators: bool = False
    # argon2id cost of password hashes (argon2-cffi's defaults); verifying reads a hash's own
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)
    password_parallelism: int = Field(default=4, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_shared_tokens(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tokens" in data:
            raise ValueError(
                "ops.tokens is gone: operators are people with roles now; create them with "
                "`paygate operators add` and give scripts `paygate operators token` (docs/OPERATIONS.md)"
            )
        return data


class RoutingSettings(_Section):
    rules: list[RoutingRule] = Field(default_factory=list)


class AuthSettings(_Section):
    max_clock_skew_seconds: int = Field(default=300, ge=1)


class LimitsSettings(_Section):
    """Risk limits; amounts are decimal strings per currency."""

    max_payment_amount: dict[str, Decimal] = Field(default_factory=lambda: {"CNY": Decimal("1000000")})
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    page_size_max: int = Field(default=200, ge=1)

    @field_validator("max_payment_amount")
    @classmethod
    def _known_currencies(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = [c for c in value if c not in CURRENCY_EXPONENTS]
        if unknown:
            raise ValueError(f"unknown currency {unknown[0]!r}")
        return value


class BillSettings(_Section):
    """Loan and reimbursement bills (seed 002): validation and risk limits, and how a bill's bank
    attempts are paid. Amount limits are per currency, in major units, inclusive."""

    max_loan_amount: dict[str, Decimal] = Field(default_factory=lambda: {"CNY": Decimal("50000")})
    max_reimbursement_amount: dict[str, Decimal] = Field(default_factory=lambda: {"CNY": Decimal("100000")})
    # no new loan while the applicant holds this many open (or in-process) loans
    max_open_loans: int = Field(default=3, ge=1)
    max_linked_loans: int = Field(default=10, ge=0)
    supported_currencies: list[str] = Field(default_factory=lambda: ["CNY"], min_length=1)
    bank_currencies: list[str] = Field(default_factory=lambda: ["CNY"])
    min_exchange_rate: Decimal = Decimal("0.0001")
    max_exchange_rate: Decimal = Decimal("10000")
    exchange_rate_max_places: int = Field(default=8, ge=0)
    # the company's paying card (银企 payer) for bills that name none
    payer_card_no: str | None = Field(default=None, min_length=8, max_length=32, pattern=r"^[0-9]+$")
    # bank attempts are payments with this pay method and business type (routing picks the bank)
    pay_method: str = Field(default="bank", min_length=1, max_length=32)
    business_type: str = Field(default="bill", min_length=1, max_length=32)
    # how long a send worker's claim on a bank attempt holds (above the bank call's timeout): an
    # attempt a stopped worker left bank_submitted is taken over once it expired
    resubmit_after_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _coherent(self) -> BillSettings:
        self.limits()  # raises ValueError naming what is wrong
        return self

    def limits(self) -> BillLimits:
        return BillLimits(
            max_loan_amount=dict(self.max_loan_amount),
            max_reimbursement_amount=dict(self.max_reimbursement_amount),
            max_open_loans=self.max_open_loans,
            max_linked_loans=self.max_linked_loans,
            supported_currencies=frozenset(self.supported_currencies),
            bank_currencies=frozenset(self.bank_currencies),
            min_exchange_rate=self.min_exchange_rate,
            max_exchange_rate=self.max_exchange_rate,
            exchange_rate_max_places=self.exchange_rate_max_places,
        )


class LeaseSettings(_Section):
    """Lease orders (seed 000): how rent deductions are routed, when a failed period is retried,
    and when the lease worker continues what a crash left behind."""

    # deductions are payments with this pay method and business type (routing picks the channel)
    pay_method: str = Field(default="withholding", min_length=1, max_length=32)
    business_type: str = Field(default="lease", min_length=1, max_length=32)
    # seconds after the 1st, 2nd, ... failed attempt of a period before the next one
    retry_schedule_seconds: list[int] = Field(
        default_factory=lambda: [3600, 21600, 86400, 172800, 345600], min_length=1
    )
    resync_after_seconds: int = Field(default=60, ge=1)
    resubmit_after_seconds: int = Field(default=60, ge=1)
    batch_size: int = Field(default=100, ge=1)
    # contract templates whose rent may be withheld before 落签 (by default 落签 comes first)
    rent_before_finalise_templates: list[str] = Field(default_factory=list)

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _not_negative(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value):
            raise ValueError("retry_schedule_seconds must not be negative")
        return value


def _default_retry_schedule() -> list[int]:
    # 10 s ... 8 h: 14 attempts spread over about 26 hours before a delivery is parked as dead.
    return [10, 30, 60, 300, 900, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 28800, 28800]


class NotifySettings(_Section):
    retry_schedule_seconds: list[int] = Field(default_factory=_default_retry_schedule, min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    # webhooks in flight at once in one round of one process
    concurrency: int = Field(default=16, ge=1)
    # how long a process holds the events it delivers; a crashed process's pass to the others after
    lease_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _lease_outlasts_delivery(self) -> NotifySettings:
        # a round's deliveries go in waves of `concurrency`; all must be done within the lease
        waves = -(-self.batch_size // self.concurrency)
        if self.lease_seconds <= self.timeout_seconds * waves:
            raise ValueError(
                "notify.lease_seconds must exceed notify.timeout_seconds times "
                "ceil(notify.batch_size / notify.concurrency)"
            )
        return self


class WorkerSettings(_Section):
    enabled: bool = True
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=100, ge=1)
    flow_flush_interval_seconds: float = Field(default=0.2, gt=0)
    # PostgreSQL, several processes: how long a claim on due payments (query poller) and the
    # bill and lease workers' round lease last; a crashed process's pass to the others after
    lease_seconds: float = Field(default=30, gt=0)
    # Default query schedule for unknown/processing outcomes; channels may set their own
    # `channels.<code>.query_schedule_seconds`. After the last step the payment is escalated.
    query_schedule_seconds: list[int] = Field(
        default_factory=lambda: [5, 15, 30, 60, 120, 300, 600, 1800, 3600], min_length=1
    )
    # After escalation, keep querying at this interval (never turn unknown into failed).
    escalated_query_interval_seconds: int = Field(default=3600, ge=1)


class LogSettings(_Section):
    level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    json_logs: bool = Field(default=True, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecuritySettings(_Section):
    """Keys that encrypt card and account numbers at rest (see gateway/storage/card_vault.py).

    `card_keys` maps a key id to base64 of 32 random bytes; `active_key_id` encrypts new writes,
    every listed key decrypts. `lookup_key` (base64, 32 bytes or more) keys the equality hash.
    Set them from the environment (PAYGATE_SECURITY__CARD_KEYS__<ID>, ...). With no card keys the
    gateway generates demo keys into `demo_keys_file`, for local trials only.
    """

    card_keys: dict[str, SecretStr] = Field(default_factory=dict)
    active_key_id: str | None = None
    lookup_key: SecretStr | None = None
    demo_keys_file: str = "data/card_keys.json"


class ConsoleSettings(_Section):
    """The web console at /console (docs/CONSOLE.md): its session and login limits."""

    # a session ends after this long without a request, and this long after the login at most
    idle_minutes: int = Field(default=30, ge=1)
    absolute_hours: int = Field(default=8, ge=1)
    # the cookie is Secure when served over TLS; this forces it (behind a TLS-terminating proxy)
    secure_cookie: bool = False
    # failed logins allowed per login and per client address within the window, then 429
    login_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)


class MetricsSettings(_Section):
    """Who may read GET /metrics (docs/OPERATIONS.md "Logs and metrics"). With `token` set, a
    scraper sends it as `Authorization: Bearer <token>`, from any address; without it, only a
    client on this host (a loopback address) is answered."""

    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("a metrics token needs at least 16 characters")
        return value


class PaygateSettings(BaseSettings):
    """All settings of one gateway process."""

    model_config = SettingsConfigDict(
        env_prefix="PAYGATE_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    apps: dict[str, AppSettings] = Field(default_factory=dict)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    bills: BillSettings = Field(default_factory=BillSettings)
    lease: LeaseSettings = Field(default_factory=LeaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    # Start each configured channel's sandbox simulator beside the gateway (the embedded default).
    sandbox: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("PAYGATE_CONFIG", "paygate.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class SettingsError(Exception):
    """Settings that cannot start a gateway; the message names each bad key."""


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(root)"
        lines.append(f"{key}: {error['msg']}")
    return "; ".join(lines)


def load_settings(**overrides: Any) -> PaygateSettings:
    config = os.environ.get("PAYGATE_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError(f"PAYGATE_CONFIG: file {config!r} does not exist")
    try:
        return PaygateSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError("invalid settings: " + describe_validation_error(exc)) from exc
