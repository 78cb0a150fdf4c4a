"""restate-sdk's `restate.types`: the test harness's environment, and `extract_core_type`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from awaken.client_types import RestateClient
from awaken.sdk.serde import core_type


@dataclass
class HarnessEnvironment:
    """What `create_test_harness` gives a test: the ingress and admin URLs, and a client."""

    ingress_url: str
    admin_api_url: str
    client: RestateClient


def extract_core_type(annotation: Any) -> tuple[Literal["optional", "simple"], Any]:
    """("optional", T) for `Optional[T]`, else ("simple", annotation)."""
    core = core_type(annotation)
    return ("simple", annotation) if core is annotation else ("optional", core)


__all__ = ["HarnessEnvironment", "extract_core_type"]
