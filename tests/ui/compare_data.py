"""Deterministic epochs for the Compare screen's snapshot and pure tests.

Two epochs of one host instance, built from data: 40 s with 2 sync workers,
then a change gtui marked (2 -> 4 workers) and 40 s more, with a 5 s
warm-up. The server side doubles its throughput and halves its latency;
the client side (a load run) is there in both; memory per worker does not
move. The per-second figures wobble by a fixed pattern, so the
significance test has noise to weigh, and the result is the same on
every run.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from gunicorn_tui.compare.epochs import ClientSecond, EpochTracker, ServerSecond
from gunicorn_tui.ui.compare.compare_screen import CompareScreen
from tests.compare.samples import sample_at

T0 = 1_700_000_000
_WOBBLE = (0.0, 0.04, -0.03, 0.02, -0.05, 0.03, -0.01, 0.05, -0.02, -0.03)
SECONDS_PER_EPOCH = 40


def _wobble(index: int) -> float:
    return 1.0 + _WOBBLE[index % len(_WOBBLE)]


def two_epoch_tracker(
    *, client: bool = True, after_seconds: int = SECONDS_PER_EPOCH
) -> EpochTracker:
    """A tracker holding the two epochs described in the module docstring."""
    now = [float(T0)]
    tracker = EpochTracker("local:100", warmup_s=5.0, clock=lambda: now[0])
    end = SECONDS_PER_EPOCH + after_seconds
    for index in range(end + 1):
        at = float(T0 + index)
        now[0] = at
        after = index > SECONDS_PER_EPOCH
        if index == SECONDS_PER_EPOCH:
            tracker.mark_change("Workers +2 on app", at=at)
        workers = 4 if after else 2
        wobble = _wobble(index)
        tracker.observe(
            sample_at(
                at,
                workers=workers,
                cpu_percent=(120.0 if after else 95.0) * wobble,
                memory_bytes=(180_000_000 if after else 100_000_000),
                busy=2,
            )
        )
        if index == end:
            break
        rate = (100 if after else 50) * wobble
        p50 = (12.0 if after else 25.0) * wobble
        tracker.add_server_seconds(
            [
                ServerSecond(
                    second=T0 + index,
                    requests=round(rate),
                    error_rate=0.0,
                    p50_ms=p50,
                    p90_ms=p50 * 2,
                    p99_ms=p50 * 4,
                )
            ]
        )
        if client:
            tracker.add_client_second(
                ClientSecond(
                    started_at=float(T0 + index),
                    window_s=1.0,
                    sent=round(rate),
                    completed=round(rate),
                    errors=0,
                    transport_errors=0,
                    p50_ms=p50 + 1.0,
                    p90_ms=p50 * 2 + 1.0,
                    p99_ms=p50 * 4 + 2.0,
                )
            )
    return tracker


class CompareOnlyApp(App[None]):
    """The Compare screen alone, over a fixed tracker, styled like gtui."""

    CSS_PATH = "../../gunicorn_tui/ui/app.tcss"

    def __init__(self, tracker: EpochTracker) -> None:
        super().__init__()
        self.tracker = tracker

    def compose(self) -> ComposeResult:
        yield Static("dashboard")

    def on_mount(self) -> None:
        self.push_screen(CompareScreen("app (pid 100)", self.tracker))
