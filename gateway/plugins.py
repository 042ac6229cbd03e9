"""The plugin manager and the channel registry, built once at start-up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from ports import hookspecs
from ports.channels import Channel, ChannelServices


class PluginError(Exception):
    """Plugins that cannot make a consistent set of channels."""


def build_plugin_manager(extra: Iterable[object] = (), *, entry_points: bool = True) -> pluggy.PluginManager:
    """A fresh manager: built-in and third-party channels alike come from the entry-point group."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        pm.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def build_channels(
    pm: pluggy.PluginManager, settings: Mapping[str, Mapping[str, Any]], services: ChannelServices
) -> dict[str, Channel]:
    """Every plugin's channels, checked: one owner per channel code, a list of Channels each.

    Each hook implementation is called on its own (in pluggy's calling order), so an error
    names the plugin that caused it; a pluggy hook call would drop the `None` results and
    leave no way to tell whose answer is whose."""
    channels: dict[str, Channel] = {}
    owners: dict[str, str] = {}
    arguments = {"settings": settings, "services": services}
    for impl in reversed(pm.hook.register_channels.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue  # wrappers answer nothing of their own
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        result = impl.function(*(arguments[name] for name in impl.argnames))
        for channel in _channels_of(plugin, result):
            if channel.code in channels:
                raise PluginError(
                    f"channel {channel.code!r} is claimed by two plugins: {owners[channel.code]} and {plugin}"
                )
            channels[channel.code] = channel
            owners[channel.code] = plugin
    unknown = sorted(set(settings) - set(channels))
    if unknown:
        raise PluginError(
            f"channels.{unknown[0]}: settings for a channel that no installed plugin provides "
            f"(installed: {', '.join(sorted(channels)) or 'none'})"
        )
    return channels


def _channels_of(plugin: str, result: object) -> list[Channel]:
    """A hook's answer: None or a list (or tuple) of Channels; anything else names the plugin."""
    if result is None:
        return []
    if not isinstance(result, list | tuple) or not all(isinstance(c, Channel) for c in result):
        raise PluginError(
            f"plugin {plugin}: register_channels must return a list of Channel, got {result!r:.200}"
        )
    return list(result)


def describe_channels(channels: Mapping[str, Channel]) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "ports": sorted(c.ports),
            "pay_methods": sorted(c.pay_methods),
            "currencies": sorted(c.currencies),
            "atomic": c.atomic,
            "extensions": sorted(c.extensions),
            "description": c.description,
        }
        for c in sorted(channels.values(), key=lambda c: c.code)
    ]
