"""Traffic of host B's instances: their access logs followed through B's engine.

Real engines, a real sshd: a container on B logs its requests to stdout;
its log stream is read through B's Docker API (a channel of the one SSH
connection), with or without a ``gtui agent`` on B (the agent streams no
traffic: its records carry none). Load goes to 127.0.0.1 only (B's
containers use the host network of this machine), bounded in count.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from docker.models.containers import Container

from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.core.monitor_waits import REPO_ROOT
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.remote.conftest import HostB

LOCAL = "unix:///var/run/docker.sock"
AGENT = {False: "/nonexistent/gtui", True: f"{sys.executable} -m gunicorn_tui"}


def _logging_gunicorn(factory: ContainerFactory) -> tuple[Container, int]:
    port = free_port()
    container = factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", "-", "app:app"],
    )
    factory.wait_http(container, port)
    return container, port


def _send(port: int, count: int) -> None:
    """``count`` requests to 127.0.0.1:port, one after another (bounded)."""
    for _ in range(count):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            response.read()


def _frame_until(
    monitor: Monitor, check: Callable[[MonitorFrame], bool], what: str, timeout_s: float = 60.0
) -> MonitorFrame:
    deadline = time.monotonic() + timeout_s
    while True:
        frame = monitor.sample()
        if check(frame):
            return frame
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {frame.traffic}"
        time.sleep(0.5)


def _requests_by_host(frame: MonitorFrame) -> dict[str, int]:
    found = {}
    for instance in frame.instances:
        view = frame.traffic.get(instance.key)
        found[instance.host] = view.snapshot.requests_total if view is not None else -1
    return found


def _rate_on_b(frame: MonitorFrame) -> float:
    """B's requests per second over the last 10 s (closed seconds only)."""
    for instance in frame.instances:
        view = frame.traffic.get(instance.key)
        if instance.host == "hostb" and view is not None:
            return view.snapshot.window(10).requests_per_s
    return 0.0


def _following(frame: MonitorFrame) -> bool:
    hosts = set()
    for instance in frame.instances:
        view = frame.traffic.get(instance.key)
        if view is not None and "container log stream" in view.sources:
            hosts.add(instance.host)
    return hosts == {"local", "hostb"}


@pytest.mark.parametrize("agent", [False, True], ids=["api-only", "agent"])
def test_each_hosts_requests_are_counted_through_its_own_engine(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
    agent: bool,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", AGENT[agent])
    on_a, port_a = _logging_gunicorn(container_factory)
    on_b, port_b = _logging_gunicorn(factory_b)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"local/{on_a.name}"), parse_target(f"hostb/{on_b.name}")),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    try:
        frame = _frame_until(monitor, _following, "both log streams followed")
        (b,) = [i for i in frame.instances if i.host == "hostb"]
        assert (b.mode.value == "procfs") is agent  # the agent samples B's /proc
        # Different counts on each side: each is counted once, on its own host.
        _send(port_a, 12)
        _send(port_b, 30)
        counted = _frame_until(
            monitor,
            lambda f: _requests_by_host(f) == {"local": 12, "hostb": 30} and _rate_on_b(f) > 0,
            "12 requests on A and 30 on B counted",
        )
        (b,) = [i for i in counted.instances if i.host == "hostb"]
        view = counted.traffic[b.key]
        assert view.request_source == "access log"
        # B's pids are not this machine's: only its log stream is read.
        assert list(view.sources) == ["container log stream"]
        if agent:
            # Per-worker figures keyed by B's pids, as the agent reports them.
            worker_pids = {w.pid for w in b.workers}
            assert {w.host_pid for w in view.snapshot.workers} <= worker_pids
    finally:
        monitor.close()


def test_b_traffic_resumes_after_its_ssh_connection_comes_back(
    host_b: HostB,
    factory_b: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", AGENT[False])
    on_b, port_b = _logging_gunicorn(factory_b)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"hostb/{on_b.name}"),),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    try:
        _frame_until(
            monitor,
            lambda f: any("container log stream" in v.sources for v in f.traffic.values()),
            "B's log stream followed",
        )
        _send(port_b, 5)
        _frame_until(monitor, lambda f: _requests_by_host(f) == {"hostb": 5}, "5 requests on B")
        host_b.sshd.kill()
        _frame_until(
            monitor,
            lambda f: any(i.stale for i in f.instances),
            "B marked unreachable",
        )
        # Requests while B is out of reach are read once it is back (the
        # stream resumes where it broke), and kept history is not lost.
        _send(port_b, 7)
        host_b.sshd.start()
        _frame_until(
            monitor,
            lambda f: (
                not any(i.stale for i in f.instances) and _requests_by_host(f) == {"hostb": 12}
            ),
            "B back with 12 requests counted",
            timeout_s=90,
        )
    finally:
        monitor.close()


def test_log_streams_per_ssh_host_are_capped_and_taken_up_when_one_frees(
    host_b: HostB, factory_b: ContainerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each stream is a channel of the one SSH connection, which sshd caps.
    monkeypatch.setenv("GTUI_REMOTE_GTUI", AGENT[False])
    monkeypatch.setenv("GTUI_SSH_LOG_STREAMS", "1")
    first, port_first = _logging_gunicorn(factory_b)
    second, port_second = _logging_gunicorn(factory_b)
    ports = {first.name: port_first, second.name: port_second}
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"hostb/{first.name}"), parse_target(f"hostb/{second.name}")),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)

    def streams(frame: MonitorFrame) -> dict[str, tuple[str, ...]]:
        found = {}
        for instance in frame.instances:
            view = frame.traffic.get(instance.key)
            if instance.container is not None and view is not None:
                found[instance.container.name] = view.sources
        return found

    try:
        frame = _frame_until(monitor, lambda f: len(streams(f)) == 2, "both instances on B")
        followed = [name for name, sources in streams(frame).items() if sources]
        assert len(followed) == 1, streams(frame)
        (waiting,) = [i for i in frame.instances if i.container.name not in followed]  # type: ignore[union-attr]
        notes = frame.traffic[waiting.key].notes
        assert any("GTUI_SSH_LOG_STREAMS" in note and "MaxSessions" in note for note in notes)
        # The followed one goes: the other's stream is taken up, and counts.
        (gone,) = [c for c in (first, second) if c.name in followed]
        kept_port = ports[waiting.container.name]  # type: ignore[union-attr]
        gone.stop(timeout=5)
        _frame_until(
            monitor,
            lambda f: list(streams(f).values()) == [("container log stream",)],
            "the other stream followed",
        )
        _send(kept_port, 4)
        _frame_until(monitor, lambda f: _requests_by_host(f) == {"hostb": 4}, "4 requests")
    finally:
        monitor.close()


def _watch_records(engines: list[str], target: str, env: dict[str, str]) -> subprocess.Popen[str]:
    environment = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)}
    hosts = [word for url in engines for word in ("-H", url)]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "watch", "--jsonl", "--interval", "1",
         "--duration", "40", "--statsd", "off", *hosts, target],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("b_alone", [False, True], ids=["a-and-b", "b-alone"])
def test_watch_jsonl_shows_b_request_rates_with_the_agent(
    host_b: HostB, factory_b: ContainerFactory, b_alone: bool
) -> None:
    # B alone: the first (and only) engine is the remote one.
    on_b, port_b = _logging_gunicorn(factory_b)
    engines = [host_b.url] if b_alone else [LOCAL, host_b.url]
    watch = _watch_records(engines, f"hostb/{on_b.name}", {"GTUI_REMOTE_GTUI": AGENT[True]})
    assert watch.stdout is not None
    seen: list[dict[str, Any]] = []
    try:
        # Load once the stream is followed, then until a record counts it.
        loaded = 0
        for line in watch.stdout:
            record = json.loads(line)
            seen.append(record)
            traffic = record.get("traffic") or {}
            if (
                record["host"] == "hostb"
                and loaded < 60
                and (
                    "container log stream" in (traffic.get("sources") or [])
                    or traffic.get("request_source") is not None
                    or len(seen) >= 5
                )
            ):
                _send(port_b, 20)
                loaded += 20
            windows = traffic.get("windows") or {}
            if ((windows.get("10s") or {}).get("requests_per_s") or 0) > 0:
                break  # counted, and a rate (of closed seconds) shown
    finally:
        watch.terminate()
        _, stderr = watch.communicate(timeout=30)
    last = seen[-1]
    assert last["host"] == "hostb" and last["sampling"] == "procfs", stderr
    assert last["traffic"]["request_source"] == "access log", last["traffic"]
    assert 0 < last["traffic"]["requests_total"] <= loaded
    assert last["traffic"]["windows"]["10s"]["requests_per_s"] > 0
    assert last["traffic"]["sources"] == ["container log stream"]


async def test_dashboard_shows_b_request_rate_in_its_row(
    host_b: HostB, factory_b: ContainerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gunicorn_tui.ui.app import GtuiApp
    from gunicorn_tui.ui.widgets.instance_table import InstanceTable

    monkeypatch.setenv("GTUI_REMOTE_GTUI", AGENT[True])
    on_b, port_b = _logging_gunicorn(factory_b)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"hostb/{on_b.name}"),),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    app = GtuiApp(monitor, refresh_s=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(InstanceTable)

        def rate_shown() -> str:
            frame = app.frame
            if frame is None or not frame.instances:
                return ""
            text = table.row_text(frame.instances[0].key)
            position = 1
            for column in table.columns:
                if column.title == "Req/s":
                    return text[position : position + column.width].strip()
                position += column.width + 1
            return ""

        async def until(check: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 60
            while not check():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await pilot.pause(0.3)

        await until(
            lambda: (
                app.frame is not None
                and any("container log stream" in v.sources for v in app.frame.traffic.values())
            ),
            "B's log stream followed",
        )
        await asyncio.to_thread(_send, port_b, 30)
        await until(lambda: rate_shown() not in ("", "n/a", "0.0"), "a request rate in B's row")
        assert float(rate_shown()) > 0
        row = table.row_text(app.frame.instances[0].key)  # type: ignore[union-attr]
        assert row.strip().startswith("hostb/")  # B's row (the name is cut to the column)


def test_snapshot_json_counts_b_requests_sent_during_its_interval(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    on_b, port_b = _logging_gunicorn(factory_b)
    environment = {**os.environ, "GTUI_REMOTE_GTUI": AGENT[False], "PYTHONPATH": str(REPO_ROOT)}
    snapshot = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "snapshot", "--json", "--interval", "8",
         "--statsd", "off", "-H", LOCAL, "-H", host_b.url, f"hostb/{on_b.name}"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # 10 req/s while the snapshot opens, samples, waits and samples again
        # (bounded: 14 s at most).
        ends = time.monotonic() + 14
        while snapshot.poll() is None and time.monotonic() < ends:
            _send(port_b, 1)
            time.sleep(0.1)
        stdout, stderr = snapshot.communicate(timeout=60)
    finally:
        if snapshot.poll() is None:
            snapshot.kill()
            snapshot.wait()
    assert snapshot.returncode == 0, stderr
    (instance,) = json.loads(stdout)["instances"]
    assert instance["host"] == "hostb" and instance["sampling"] == "api"
    traffic = instance["traffic"]
    assert traffic["request_source"] == "access log", traffic
    assert traffic["requests_total"] > 0 and traffic["sources"] == ["container log stream"]
    assert traffic["windows"]["10s"]["requests_per_s"] > 0
