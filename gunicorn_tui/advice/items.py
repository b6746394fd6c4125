"""What the advice engine hands out: items with evidence and a retune."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gunicorn_tui.control.planning.requests import RetuneRequest


class AdviceKind(StrEnum):
    """How an item reads."""

    SUGGESTION = "suggestion"  # try this retune
    CAUTION = "caution"  # do not do the obvious thing (more workers on a CPU-bound box)
    FINE = "fine"  # measured, and within the guideline
    NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class Evidence:
    """One number an item was judged on."""

    name: str
    value: float | int | str | None
    unit: str = ""

    def text(self) -> str:
        """``name = value unit`` for humans."""
        if self.value is None:
            shown = "n/a"
        elif isinstance(self.value, float):
            shown = f"{self.value:.3g}" if abs(self.value) < 1000 else f"{self.value:,.0f}"
        elif isinstance(self.value, int):
            shown = f"{self.value:,}"
        else:
            shown = self.value
        unit = f" {self.unit}" if self.unit and self.value is not None else ""
        return f"{self.name} = {shown}{unit}"


@dataclass(frozen=True)
class AdviceItem:
    """One piece of advice: what, why (the evidence), and what to prepare."""

    rule: str  # stable id: "workers-vs-cpu", "io-bound", ...
    kind: AdviceKind
    title: str
    detail: str
    evidence: tuple[Evidence, ...] = ()
    retune: RetuneRequest | None = None
