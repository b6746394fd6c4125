"""One dashboard on two engines: this machine's and host B's (over SSH, with its gtui agent)."""

from __future__ import annotations

import sys
import time

import pytest
from textual.widgets import Static

from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.widgets.instance_table import InstanceTable
from tests.harness.containers import ContainerFactory
from tests.remote.conftest import HostB
from tests.remote.test_two_hosts import LOCAL, _gunicorn


async def test_dashboard_shows_both_engines_by_host(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", f"{sys.executable} -m gunicorn_tui")
    on_a, _ = _gunicorn(container_factory, 2)
    on_b, _ = _gunicorn(factory_b, 3)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"local/{on_a.name}"), parse_target(f"hostb/{on_b.name}")),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=20)
    app = GtuiApp(monitor, refresh_s=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(InstanceTable)
        deadline = time.monotonic() + 60
        while True:
            labels = sorted(row.cells[0].text for row in table._rows)
            if len(labels) == 2 and all(w.process.cpu_percent is not None
                                        for s in (app.frame.instances if app.frame else ())
                                        for w in s.workers):  # fmt: skip
                break
            assert time.monotonic() < deadline, labels
            await pilot.pause(0.2)
        assert any(label.startswith(f"hostb/{on_b.name}:") for label in labels), labels
        assert any(label.startswith(f"{on_a.name}:") for label in labels), labels
        frame = app.frame
        assert frame is not None
        by_host = {s.host: s for s in frame.instances}
        assert by_host["hostb"].container is not None and by_host["hostb"].container.id == on_b.id
        assert by_host["local"].container is not None and by_host["local"].container.id == on_a.id
        # B through its gtui agent: per-worker figures as for a local host.
        assert len(by_host["hostb"].workers) == 3
        assert all(w.process.uss_bytes is not None for w in by_host["hostb"].workers)
        status = str(app.query_one("#status", Static).render())
        assert "local" in status and "hostb" in status
