"""Pluggy hook specifications: how a channel plugin tells the gateway what it brings.

Plugin authors import the marker from here: ``from ports.hookspecs import hookimpl``.
Hooks are synchronous on purpose: pluggy has no async support, and the adapters they return
carry the async methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from ports.channels import Channel, ChannelServices

PROJECT = "paygate"
ENTRY_POINT_GROUP = "paygate.channels"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_channels(settings: Mapping[str, Mapping[str, Any]], services: ChannelServices) -> list[Channel]:
    """Return the channels this plugin provides, built from their settings.

    `settings` maps a channel code to its raw `channels.<code>` table from the gateway's
    settings (an empty mapping when none is configured); the plugin validates its own table.
    Every plugin's list is collected; two plugins claiming one channel code is a start-up error.
    """


@hookspec
def channel_sandboxes(settings: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    """Return sandbox simulators (objects with async ``start()`` / ``stop()``) to run beside an
    embedded gateway whose channel settings point at them. Every plugin's list is collected."""
