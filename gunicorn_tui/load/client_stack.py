"""Which event loop and HTTP parser the load driver runs on.

The fast stack is uvloop (libuv's event loop) with llhttp through httptools,
as uvicorn uses them: measured here (benchmarks/load_driver_bench.py) it
costs less CPU per request than hey. Both are C extensions, installed with
gtui where wheels exist; where either is missing the driver runs on
asyncio's own loop and h11 (pure Python) and says so in its summary
(``RunSummary.client_stack``), so a figure is never read as the other
stack's.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventLoopName = Literal["uvloop", "asyncio"]
ParserName = Literal["httptools", "h11"]


@dataclass(frozen=True)
class ClientStack:
    """An event loop and a response parser."""

    event_loop: EventLoopName
    parser: ParserName

    @property
    def label(self) -> str:
        """``uvloop + httptools`` and the like, for reports."""
        return f"{self.event_loop} + {self.parser}"

    def loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        """What ``asyncio.Runner`` makes the run's loop with."""
        if self.event_loop == "uvloop":
            import uvloop

            return uvloop.new_event_loop
        return asyncio.new_event_loop


PURE_PYTHON = ClientStack("asyncio", "h11")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def best_stack() -> ClientStack:
    """The fastest stack installed here."""
    return ClientStack(
        "uvloop" if _installed("uvloop") else "asyncio",
        "httptools" if _installed("httptools") else "h11",
    )


__all__ = ["PURE_PYTHON", "ClientStack", "EventLoopName", "ParserName", "best_stack"]
