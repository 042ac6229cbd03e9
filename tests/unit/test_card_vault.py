"""Card and account numbers at rest: AES-GCM under key ids, the keyed lookup hash, rotation."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from gateway.settings import SecuritySettings
from gateway.storage.card_vault import CardVault, CardVaultError, demo_keys, vault_from_settings

CARD = "6222020000000001"


def _key() -> bytes:
    return os.urandom(32)


def _vault(keys: dict[str, bytes], active: str, lookup: bytes | None = None) -> CardVault:
    return CardVault(keys, active, lookup or b"L" * 32)


def test_a_number_decrypts_to_itself_and_is_not_stored_in_clear() -> None:
    vault = _vault({"k1": _key()}, "k1")
    stored = vault.encrypt(CARD)
    assert stored.startswith("v1:k1:") and CARD not in stored
    assert vault.decrypt(stored) == CARD
    assert vault.encrypt(CARD) != stored, "a fresh nonce every time"


def test_a_number_under_an_unknown_key_id_is_refused() -> None:
    stored = _vault({"k1": _key()}, "k1").encrypt(CARD)
    with pytest.raises(CardVaultError, match="'k1'.*not configured"):
        _vault({"k2": _key()}, "k2").decrypt(stored)


def test_a_number_relabelled_with_another_key_id_or_tampered_is_refused() -> None:
    key = _key()
    vault = _vault({"k1": key, "k2": key}, "k1")
    stored = vault.encrypt(CARD)
    with pytest.raises(CardVaultError, match="does not decrypt"):
        vault.decrypt(stored.replace("v1:k1:", "v1:k2:"))  # the key id is authenticated data
    raw = bytearray(base64.b64decode(stored.split(":", 2)[2]))
    raw[-1] ^= 1
    with pytest.raises(CardVaultError, match="does not decrypt"):
        vault.decrypt("v1:k1:" + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(CardVaultError, match="format"):
        vault.decrypt(CARD)


def test_rotation_reads_old_keys_and_writes_the_active_one() -> None:
    old, new = _key(), _key()
    before = _vault({"old": old}, "old")
    stored = before.encrypt(CARD)
    after = _vault({"old": old, "new": new}, "new")
    assert not after.is_current(stored) and after.decrypt(stored) == CARD
    rotated = after.encrypt(after.decrypt(stored))
    assert after.is_current(rotated) and after.key_id_of(rotated) == "new"


def test_the_lookup_hash_is_keyed_and_ignores_blanks() -> None:
    one = _vault({"k": _key()}, "k", b"A" * 32)
    other = _vault({"k": _key()}, "k", b"B" * 32)
    assert one.lookup_hash(CARD) == one.lookup_hash("6222 0200 0000 0001")
    assert one.lookup_hash(CARD) != other.lookup_hash(CARD)
    assert CARD not in one.lookup_hash(CARD)


def test_settings_must_name_an_active_key_among_the_keys() -> None:
    key = base64.b64encode(_key()).decode()
    security = SecuritySettings.model_validate(
        {"card_keys": {"k1": key}, "active_key_id": "k9", "lookup_key": key}
    )
    with pytest.raises(CardVaultError, match="active card key 'k9'"):
        vault_from_settings(security)
    short = SecuritySettings.model_validate(
        {"card_keys": {"k1": base64.b64encode(b"x" * 16).decode()}, "active_key_id": "k1", "lookup_key": key}
    )
    with pytest.raises(CardVaultError, match="32 bytes"):
        vault_from_settings(short)


def test_demo_keys_are_generated_once_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "card_keys.json"
    vault = vault_from_settings(SecuritySettings(demo_keys_file=str(path)))
    assert path.stat().st_mode & 0o077 == 0
    assert demo_keys(path)[1] == vault.active_key_id
    again = vault_from_settings(SecuritySettings(demo_keys_file=str(path)))
    assert again.decrypt(vault.encrypt(CARD)) == CARD


def test_each_thread_makes_a_key_s_cipher_once_and_threads_never_share_one() -> None:
    import threading

    from gateway.storage import card_vault

    key = _key()
    vault = _vault({"k1": key, "k2": _key()}, "k1")
    mine = card_vault._aead(key)
    assert card_vault._aead(key) is mine
    seen: list[object] = []
    failures: list[BaseException] = []

    def encrypt_many() -> None:
        try:
            seen.append(card_vault._aead(key))
            for i in range(300):
                number = f"62220200{i:08d}"
                assert vault.decrypt(vault.encrypt(number)) == number
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=encrypt_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len({id(c) for c in seen}) == 4 and mine not in seen
