"""Sandbox-only key pairs of an OpenAPI simulator: generated into a folder, loaded from it."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from plugins.alipay_openapi.sandbox import SandboxKeys
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_openapi.signing import (
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)

# File names of the sandbox-only key pairs: the simulator's ("Alipay") and the app's ("us").
ALIPAY_PRIVATE_KEY_FILE = "sandbox_only_alipay_private_key.pem"
ALIPAY_PUBLIC_KEY_FILE = "sandbox_only_alipay_public_key.pem"
APP_PRIVATE_KEY_FILE = "sandbox_only_app_private_key.pem"
APP_PUBLIC_KEY_FILE = "sandbox_only_app_public_key.pem"


def write_generated_keys(keys_dir: Path) -> None:
    """Generate both sandbox-only key pairs into `keys_dir`, named as `load_sandbox_keys` reads."""
    alipay_key, app_key = generate_private_key(), generate_private_key()
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / ALIPAY_PRIVATE_KEY_FILE).write_text(private_key_pem(alipay_key))
    (keys_dir / ALIPAY_PUBLIC_KEY_FILE).write_text(public_key_pem(alipay_key.public_key()))
    (keys_dir / APP_PRIVATE_KEY_FILE).write_text(private_key_pem(app_key, pkcs1=True))
    (keys_dir / APP_PUBLIC_KEY_FILE).write_text(public_key_pem(app_key.public_key()))


def load_sandbox_keys(keys_dir: Path, app_id: str) -> SandboxKeys:
    """The simulator's keys from `keys_dir`: its own signing key and `app_id`'s public key."""
    return SandboxKeys(
        alipay_private_key=load_private_key((keys_dir / ALIPAY_PRIVATE_KEY_FILE).read_text()),
        app_public_keys={app_id: load_public_key((keys_dir / APP_PUBLIC_KEY_FILE).read_text())},
    )


def ensure_sandbox_keys(keys_dir: Path) -> Path:
    """The sandbox-only key folder, generated on first use. Keys are written to a staging
    folder and renamed into place, so two processes starting together agree on one set."""
    if (keys_dir / APP_PRIVATE_KEY_FILE).is_file():
        return keys_dir
    keys_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".keys-", dir=keys_dir.parent))
    write_generated_keys(staging)
    try:
        os.rename(staging, keys_dir)
    except OSError:  # another process won the race, or a folder is in the way
        shutil.rmtree(staging, ignore_errors=True)
    if not (keys_dir / APP_PRIVATE_KEY_FILE).is_file():
        write_generated_keys(keys_dir)  # a folder without keys was there: fill it
    return keys_dir


def sandbox_openapi_settings(
    gateway_url: str, app_id: str, keys_dir: Path, notify_url: str | None = None
) -> AlipayOpenApiSettings:
    """Client settings calling a simulator with the sandbox-only keys of `keys_dir`
    (generated there first if missing)."""
    keys_dir = ensure_sandbox_keys(keys_dir)
    return AlipayOpenApiSettings(
        gateway_url=gateway_url,
        app_id=app_id,
        app_private_key=SecretStr((keys_dir / APP_PRIVATE_KEY_FILE).read_text()),
        alipay_public_key=(keys_dir / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        notify_url=notify_url,
    )


class StandaloneSandbox(Protocol):
    @property
    def gateway_url(self) -> str: ...

    async def start(self) -> object: ...

    async def stop(self) -> None: ...


def standalone_keys_dir(keys_dir: Path | None, prefix: str) -> Path:
    """The key folder a standalone simulator uses: the one given, or fresh keys in a temp folder."""
    if keys_dir is None:
        keys_dir = Path(tempfile.mkdtemp(prefix=prefix))
        write_generated_keys(keys_dir)
    return keys_dir


async def serve_until_stopped(sandbox: StandaloneSandbox, name: str, app_id: str, keys_dir: Path) -> None:
    """Run a standalone simulator until the process is interrupted, saying where its keys are."""
    await sandbox.start()
    print(f"{name} sandbox at {sandbox.gateway_url} for app_id {app_id}")
    print(
        f"sandbox-only keys in {keys_dir}: give the client {APP_PRIVATE_KEY_FILE} "
        f"and {ALIPAY_PUBLIC_KEY_FILE}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
