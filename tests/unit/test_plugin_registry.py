"""The channel registry built from the plugins' register_channels hooks names the plugin at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gateway.plugins import PluginError, build_channels, build_plugin_manager
from ports.channels import Channel, ChannelServices
from ports.hookspecs import hookimpl


class NoAccounts:
    async def get_accounts(self, ids: Any) -> dict[str, Any]:
        return {}


SERVICES = ChannelServices(NoAccounts())


def channel(code: str) -> Channel:
    return Channel(code=code, pay_methods=frozenset({"x"}), currencies=frozenset({"CNY"}))


class ReturnsNone:
    @hookimpl
    def register_channels(self, settings: Mapping[str, Any], services: ChannelServices) -> None:
        return None


class ClaimsAlpha:
    @hookimpl
    def register_channels(self, settings: Mapping[str, Any]) -> list[Channel]:
        return [channel("alpha")]


class ClaimsAlphaToo:
    @hookimpl
    def register_channels(self, settings: Mapping[str, Any], services: ChannelServices) -> list[Channel]:
        return [channel("alpha")]


class ReturnsNonsense:
    @hookimpl
    def register_channels(self, settings: Mapping[str, Any], services: ChannelServices) -> object:
        return "not a list of channels"


def manager(*plugins: tuple[str, object]) -> Any:
    pm = build_plugin_manager(entry_points=False)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


def test_a_bad_answer_after_a_none_answer_names_its_own_plugin() -> None:
    pm = manager(("bad", ReturnsNonsense()), ("quiet", ReturnsNone()))
    with pytest.raises(PluginError, match=r"plugin bad: register_channels must return a list"):
        build_channels(pm, {}, SERVICES)


def test_a_second_claim_after_a_none_answer_names_the_claiming_plugins() -> None:
    pm = manager(("second", ClaimsAlphaToo()), ("quiet", ReturnsNone()), ("first", ClaimsAlpha()))
    with pytest.raises(PluginError) as raised:
        build_channels(pm, {}, SERVICES)
    message = str(raised.value)
    assert "claimed by two plugins" in message
    assert "quiet" not in message
    assert {"first", "second"} <= set(message.replace(",", " ").replace(":", " ").split())


def test_plugins_answering_none_or_channels_make_one_registry() -> None:
    pm = manager(("quiet", ReturnsNone()), ("first", ClaimsAlpha()))
    assert set(build_channels(pm, {}, SERVICES)) == {"alpha"}
