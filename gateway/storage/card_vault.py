"""Card and account numbers at rest: AES-GCM encryption under rotating key ids, and a keyed hash.

A stored number reads `v1:<key_id>:<base64 of nonce + ciphertext>`. It decrypts under any key id
the vault knows, so keys rotate without a flag day: a new active key encrypts every new write,
and `paygate keys rotate` re-encrypts older rows. The keyed hash (HMAC-SHA256 under a separate
key) lets a column be looked up by equality without storing the number.

The vault is installed once per process (`install`) by whoever builds the engine: the column type
`EncryptedNumber` and the migrations reach it through `current()`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.settings import SecuritySettings

PREFIX = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32


class CardVaultError(Exception):
    """A stored number that cannot be read: unknown key id, tampered or malformed ciphertext."""


_per_thread = threading.local()


def _aead(key: bytes) -> AESGCM:
    """The AES-GCM cipher of `key`, made once per thread: making one (the key schedule) cost more
    than the encryption of a number. Per thread, as the library does not promise that one
    instance may be used by several threads at once."""
    ciphers: dict[bytes, AESGCM] | None = getattr(_per_thread, "ciphers", None)
    if ciphers is None:
        ciphers = _per_thread.ciphers = {}
    cipher = ciphers.get(key)
    if cipher is None:
        cipher = ciphers[key] = AESGCM(key)
    return cipher


def _key_bytes(key_id: str, encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise CardVaultError(f"card key {key_id!r} is not base64") from exc
    if len(raw) != KEY_BYTES:
        raise CardVaultError(f"card key {key_id!r} must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class CardVault:
    """Encrypts under the active key, decrypts under any known key, hashes for lookups."""

    keys: Mapping[str, bytes]
    active_key_id: str
    lookup_key: bytes

    def __post_init__(self) -> None:
        if self.active_key_id not in self.keys:
            raise CardVaultError(f"active card key {self.active_key_id!r} is not among the card keys")
        for key_id in self.keys:
            if not key_id or ":" in key_id:
                raise CardVaultError(f"card key id {key_id!r} must be non-empty and contain no ':'")
        if len(self.lookup_key) < KEY_BYTES:
            raise CardVaultError(f"the lookup key must have at least {KEY_BYTES} bytes")

    @classmethod
    def from_encoded(cls, keys: Mapping[str, str], active_key_id: str, lookup_key: str) -> CardVault:
        """A vault from base64 keys, as settings and the demo keys file hold them."""
        decoded = {key_id: _key_bytes(key_id, value) for key_id, value in keys.items()}
        return cls(decoded, active_key_id, _key_bytes("lookup", lookup_key))

    def encrypt(self, number: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active_key_id
        sealed = _aead(self.keys[key_id]).encrypt(nonce, number.encode(), key_id.encode())
        return f"{PREFIX}:{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str) -> str:
        prefix, key_id, body = self._parts(stored)
        key = self.keys.get(key_id)
        if key is None:
            raise CardVaultError(f"a stored number is under card key {key_id!r}, which is not configured")
        try:
            raw = base64.b64decode(body, validate=True)
            plain = _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode())
        except (ValueError, InvalidTag) as exc:
            raise CardVaultError(f"a stored number under card key {key_id!r} does not decrypt") from exc
        return plain.decode()

    def key_id_of(self, stored: str) -> str:
        return self._parts(stored)[1]

    def is_current(self, stored: str) -> bool:
        """Whether a stored number is already under the active key (rotation skips it)."""
        return self.key_id_of(stored) == self.active_key_id

    def lookup_hash(self, number: str) -> str:
        """The keyed hash an equality lookup compares (hex), of the number without blanks."""
        compact = "".join(number.split())
        return hmac.new(self.lookup_key, compact.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def is_encrypted(stored: str) -> bool:
        return stored.startswith(PREFIX + ":")

    @staticmethod
    def _parts(stored: str) -> tuple[str, str, str]:
        parts = stored.split(":", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise CardVaultError("a stored number is not in the v1:<key id>:<ciphertext> format")
        return parts[0], parts[1], parts[2]


def demo_keys(path: Path) -> tuple[dict[str, str], str, str]:
    """Keys for local trials, generated into `path` (owner-only) on first use and reused after.

    Only for the embedded default: a real deployment configures `security.card_keys`,
    `security.active_key_id` and `security.lookup_key` from its secret store.
    """
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        content = {
            "comment": "demo card keys for local trials only; never use them for real card numbers",
            "card_keys": {"demo1": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()},
            "active_key_id": "demo1",
            "lookup_key": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode(),
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote them first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as file:
                json.dump(content, file, indent=2)
    data = json.loads(path.read_text())
    return dict(data["card_keys"]), str(data["active_key_id"]), str(data["lookup_key"])


def vault_from_settings(security: SecuritySettings) -> CardVault:
    """The configured keys, or the demo keys file when none are configured."""
    if not security.card_keys:
        return CardVault.from_encoded(*demo_keys(Path(security.demo_keys_file)))
    if security.active_key_id is None or security.lookup_key is None:
        raise CardVaultError("security.card_keys needs security.active_key_id and security.lookup_key")
    keys = {key_id: key.get_secret_value() for key_id, key in security.card_keys.items()}
    return CardVault.from_encoded(keys, security.active_key_id, security.lookup_key.get_secret_value())


_installed: CardVault | None = None


def install(vault: CardVault) -> None:
    """Make `vault` the one the tables' encrypted columns use in this process."""
    global _installed
    _installed = vault


def current() -> CardVault:
    if _installed is None:
        raise CardVaultError("no card vault installed: build the engine through the container")
    return _installed
