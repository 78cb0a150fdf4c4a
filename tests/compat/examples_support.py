"""Loading Restate's examples as their READMEs run them: from their own directory, importing each
other by top-level name."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from awaken.testing import TestEnvironment

EXAMPLES = Path(__file__).resolve().parent / "restate_examples"
SDK_EXAMPLES = EXAMPLES / "sdk_python"
BASICS = EXAMPLES / "basics"
PATTERNS = EXAMPLES / "patterns"

T = TypeVar("T")


def load(directory: Path, module: str) -> ModuleType:
    """Import `module` with `directory` first on sys.path (what `cd directory` does for them)."""
    path = str(directory)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(module)


async def while_advancing(env: TestEnvironment, work: Awaitable[T], step: float = 6.0, limit: int = 200) -> T:
    """Await `work` while the harness clock jumps ahead `step` seconds at a time (durable timers of
    seconds or days fire at once)."""
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    for _ in range(limit):
        done, _ = await asyncio.wait({task}, timeout=0.02)
        if done:
            return task.result()
        env.clock.advance(step)
    task.cancel()
    raise AssertionError(f"not done after the clock moved {step * limit} s")


def journal_steps(invocation: dict[str, Any]) -> list[str]:
    return [e["name"] for e in invocation["journal"] if e["kind"] == "run"]
