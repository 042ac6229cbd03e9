"""Settings from TOML and environment; routing rules checked at start-up; explainable choices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import NoRoute
from core.payments.routing import ChannelCapability, Router, RouteRequest, RoutingConfigError, RoutingRule
from gateway.settings import SettingsError, load_settings

CAPS = {
    "internal_transfer": ChannelCapability(
        "internal_transfer",
        frozenset({"payment", "query"}),
        frozenset({"transfer"}),
        frozenset({"CNY", "USD"}),
    ),
    "bank": ChannelCapability(
        "bank", frozenset({"payment", "query"}), frozenset({"bank"}), frozenset({"CNY"})
    ),
}


def rule(**fields: object) -> RoutingRule:
    return RoutingRule.model_validate(fields)


def test_first_matching_rule_wins() -> None:
    router = Router(
        [
            rule(name="small", pay_method="bank", channel="bank", max_amount="100"),
            rule(name="any bank", pay_method="bank", channel="bank"),
        ],
        CAPS,
    )
    assert router.select(RouteRequest("bank", Decimal("50"), "CNY")).rule.name == "small"
    assert router.select(RouteRequest("bank", Decimal("500"), "CNY")).rule.name == "any bank"


def test_rules_match_on_business_type_currency_and_explicit_channel() -> None:
    router = Router(
        [
            rule(
                pay_method="transfer",
                channel="internal_transfer",
                business_type="B",
                currency="USD",
                min_amount="1",
            )
        ],
        CAPS,
    )
    assert router.select(RouteRequest("transfer", Decimal("2"), "USD", business_type="B")).channel
    for request in (
        RouteRequest("transfer", Decimal("2"), "USD", business_type="C"),
        RouteRequest("transfer", Decimal("2"), "CNY", business_type="B"),
        RouteRequest("transfer", Decimal("0.5"), "USD", business_type="B"),
        RouteRequest("transfer", Decimal("2"), "USD", channel="bank", business_type="B"),
    ):
        with pytest.raises(NoRoute):
            router.select(request)


def test_rule_naming_a_channel_not_installed_fails_at_start() -> None:
    with pytest.raises(RoutingConfigError, match="'alipay' is not installed"):
        Router([rule(pay_method="alipay", channel="alipay")], CAPS)


def test_rule_with_a_pay_method_the_channel_lacks_fails_at_start() -> None:
    with pytest.raises(RoutingConfigError, match="does not support pay method 'transfer'"):
        Router([rule(pay_method="transfer", channel="bank")], CAPS)


def test_rule_with_unsupported_currency_fails_at_start() -> None:
    with pytest.raises(RoutingConfigError, match="currency 'USD'"):
        Router([rule(pay_method="bank", channel="bank", currency="USD")], CAPS)


def test_explanation_names_the_rule() -> None:
    decision = Router([rule(name="r", pay_method="bank", channel="bank")], CAPS).select(
        RouteRequest("bank", Decimal("1"), "CNY")
    )
    assert decision.explain() == {
        "channel": "bank",
        "rule": {
            "index": 0,
            "label": "r",
            "name": "r",
            "pay_method": "bank",
            "channel": "bank",
            "submitters": ["bills", "callers", "lease", "payouts"],
        },
    }


def test_settings_come_from_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "paygate.toml"
    config.write_text(
        '[server]\nport = 9000\n[apps.a1]\nsecret = "0123456789"\n'
        '[[routing.rules]]\npay_method = "transfer"\nchannel = "internal_transfer"\n'
    )
    monkeypatch.setenv("PAYGATE_CONFIG", str(config))
    monkeypatch.setenv("PAYGATE_SERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("PAYGATE_DATABASE__URL", "postgresql+asyncpg://u@127.0.0.1/db")
    settings = load_settings()
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert settings.database.url.startswith("postgresql") and not settings.database.migrate_on_start
    assert settings.apps["a1"].secret.get_secret_value() == "0123456789"
    assert settings.routing.rules[0].channel == "internal_transfer"
    assert "0123456789" not in repr(settings)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[server]\nport = "eighty"\n', "server.port"),
        ('[apps.a1]\nsecret = "short"\n', "apps.a1.secret"),
        ('[[routing.rules]]\npay_method = "transfer"\n', "routing.rules.0.channel"),
        ('[limits.max_payment_amount]\nXYZ = "1"\n', "limits.max_payment_amount"),
        ('[databse]\nurl = "x"\n', "databse"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, key: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    monkeypatch.setenv("PAYGATE_CONFIG", str(config))
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        load_settings()


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYGATE_CONFIG", "/nonexistent/paygate.toml")
    with pytest.raises(SettingsError, match="PAYGATE_CONFIG"):
        load_settings()
