"""Fixtures for the SPDB unit tests: self-made signer identities, made once per session."""

from __future__ import annotations

import pytest

from plugins.spdb.sandbox_scenarios import SandboxIdentities


@pytest.fixture(scope="session")
def identities() -> SandboxIdentities:
    return SandboxIdentities.generate()
