"""The dashboard on a live Monitor over a real local Gunicorn with an access
log: the Traffic, Endpoints and Events tabs and the per-worker Req/s column
show what the client did, as read from the screen's tables."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

from textual.pilot import Pilot

from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.widgets.endpoint_table import EndpointTable
from gunicorn_tui.ui.widgets.row_table import RowTable
from gunicorn_tui.ui.widgets.worker_table import WorkerTable
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.traffic_live.traffic_waits import PID_AND_DURATION_FORMAT, get_many, get_paths

FAST = 150
ITEMS = 30


async def _until(pilot: Pilot[None], check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not shown within {timeout_s} s")
        await pilot.pause(0.1)


def _view(app: GtuiApp) -> TrafficView | None:
    return app.traffic_of(app.selected_sample())


def _row(table: RowTable, key: str) -> dict[str, str]:
    """A row as drawn, cell text by column title (columns are fixed-width)."""
    text = table.row_text(key)
    cells, position = {}, 1
    for column in table.columns:
        cells[column.title] = text[position : position + column.width].strip()
        position += column.width + 1
    return cells


async def test_traffic_endpoints_events_and_worker_rates_on_screen(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    server = local_gunicorn.start(
        "--workers",
        "3",
        "--access-logfile",
        str(tmp_path / "access.log"),
        "--access-logformat",
        PID_AND_DURATION_FORMAT,
    )
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),),
            use_docker=False,
            statsd_address=None,
            probe_versions=False,
        )
    )
    monitor.open()
    app = GtuiApp(monitor, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(
            pilot,
            lambda: (v := _view(app)) is not None and any("access.log" in s for s in v.sources),
            20,
            "the access log among the sources",
        )
        started = time.monotonic()
        truth: Counter[int] = await asyncio.to_thread(get_many, server.base_url, "/fast", FAST)
        item_paths = [f"/items/{n}" for n in range(ITEMS - 1)] + [f"/items/{uuid.uuid4()}"]
        statuses = await asyncio.to_thread(get_paths, server.base_url, item_paths)
        assert statuses == [200] * ITEMS
        sent = FAST + ITEMS
        # All of it inside the 10 s window (complete seconds only).
        await _until(
            pilot,
            lambda: (v := _view(app)) is not None and v.snapshot.window(10).requests == sent,
            8,
            "every request in the 10 s window",
        )
        assert time.monotonic() - started < 9, "the traffic took too long to fit one window"

        await pilot.press("2")
        await pilot.pause(0.2)
        windows = app.query_one("#windows", RowTable)
        shown = _row(windows, "10s")
        assert shown["Reqs"] == str(sent)
        assert shown["Req/s"] == f"{sent / 10:.1f}"
        assert shown["5xx"] == "0" and shown["4xx"] == "0"
        assert shown["p50"] != "n/a" and shown["p99"] != "n/a"
        assert _row(windows, "60s")["Reqs"] == str(sent)

        await pilot.press("3")
        await pilot.pause(0.2)
        endpoints = app.query_one(EndpointTable)
        assert endpoints.row_keys == ["GET /fast", "GET /items/:id"]
        fast = _row(endpoints, "GET /fast")
        items = _row(endpoints, "GET /items/:id")
        assert (fast["Total"], items["Total"]) == (str(FAST), str(ITEMS))

        await pilot.press("1")
        await pilot.pause(0.2)
        workers = app.query_one(WorkerTable)
        shown_rates = {int(key): _row(workers, key)["Req/s"] for key in workers.row_keys}
        # /items answers carry no pid: read their split from the view.
        view = _view(app)
        assert view is not None
        items_by_pid = {
            w.host_pid: w.requests_total - truth.get(w.host_pid or 0, 0)
            for w in view.snapshot.workers
        }
        assert sum(items_by_pid.values()) == ITEMS
        assert shown_rates == {
            pid: f"{(truth.get(pid, 0) + items_by_pid.get(pid, 0)) / 10:.1f}" for pid in shown_rates
        }

        victim = min(shown_rates)
        os.kill(victim, signal.SIGKILL)
        await pilot.press("4")
        events = app.query_one("#events", RowTable)

        def kill_shown() -> bool:
            rows = [_row(events, key) for key in events.row_keys]
            return any(r["Event"] == "killed (OOM?)" and r["Worker"] == str(victim) for r in rows)

        await _until(pilot, kill_shown, 10, f"the kill of {victim}")
        counts = str(app.query_one("#event-counts").render())
        assert "OOM? 1" in counts and "killed 1" in counts
        app.save_screenshot(str(tmp_path / "events.svg"))
        await pilot.press("q")
