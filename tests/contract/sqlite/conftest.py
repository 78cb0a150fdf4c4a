"""The Sqlite dialect's own tests: the `store` fixture here is always a Sqlite store."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"
