"""Settings: sandbox defaults, validated URLs and back-off, poll limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugins.spdb.settings import SpdbSettings


def test_defaults_point_at_the_sandbox_services() -> None:
    settings = SpdbSettings()
    assert settings.front_machine_url.endswith("/front")
    assert settings.signing_server_url.endswith("/signer")


@pytest.mark.parametrize(
    "override",
    [
        {"front_machine_url": "ftp://bank"},
        {"timeout_seconds": 0},
        {"query_backoff_seconds": []},
        {"query_backoff_seconds": [5, 0]},
        {"max_polls": 0},
        {"unknown": 1},
    ],
)
def test_invalid_settings_are_refused(override: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SpdbSettings(**override)  # type: ignore[arg-type]


def test_backoff_follows_the_schedule_and_repeats_its_last_wait() -> None:
    settings = SpdbSettings(query_backoff_seconds=[5, 30, 60])
    assert [settings.backoff_before_poll(n) for n in range(1, 6)] == [5, 30, 60, 60, 60]


def test_escalation_comes_after_max_polls() -> None:
    settings = SpdbSettings(max_polls=3)
    assert not settings.should_escalate(2)
    assert settings.should_escalate(3)


def test_the_channels_urls_follow_a_moved_sandbox_port() -> None:
    from plugins.spdb import channel_settings

    moved = channel_settings({"spdb": {"sandbox_port": 6123}})
    assert moved is not None
    assert moved.front_machine_url == "http://127.0.0.1:6123/front"
    assert moved.signing_server_url == "http://127.0.0.1:6123/signer"
    explicit = channel_settings(
        {"spdb": {"sandbox_port": 6123, "front_machine_url": "https://bank.example/front"}}
    )
    assert explicit is not None and explicit.front_machine_url == "https://bank.example/front"
    assert explicit.signing_server_url == "http://127.0.0.1:6123/signer"
    default = channel_settings({"spdb": {}})
    assert default is not None and default.front_machine_url == "http://127.0.0.1:5777/front"
