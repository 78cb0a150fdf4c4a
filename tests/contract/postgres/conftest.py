"""The Postgres dialect's own tests: the `store` fixture here is always a Postgres store."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "postgres"
