"""Discovery with container targets scans only those containers' processes."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest

import gunicorn_tui.monitor.monitor as monitor_module
from gunicorn_tui.host import host_processes
from gunicorn_tui.host.cgroup import find_cgroup_paths, read_cgroup_tree_pids
from gunicorn_tui.host.process_tree import ProcRecord
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags


def _frame_with_workers(monitor: Monitor, workers: int, timeout_s: float = 15.0) -> MonitorFrame:
    # Workers boot one after the other after /health first answers.
    deadline = time.monotonic() + timeout_s
    while True:
        frame = monitor.sample()
        if all(len(i.workers) == workers for i in frame.instances) and frame.instances:
            return frame
        assert time.monotonic() < deadline, f"never saw {workers} workers: {frame}"
        time.sleep(0.5)


def test_container_targets_scan_their_cgroups_not_the_host(
    container_factory: ContainerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, other_port = free_port(), free_port()
    # The shell image's master is not PID 1: a child of the entrypoint script.
    target = container_factory.start(
        tags.GUNICORN_SHELL, ["--bind", f"127.0.0.1:{port}", "--workers", "2", "app:app"]
    )
    other = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", f"127.0.0.1:{other_port}", "--workers", "2", "app:app"],
    )
    container_factory.wait_http(target, port)
    container_factory.wait_http(other, other_port)
    target.reload()

    scanned: list[list[int] | None] = []
    real_records = host_processes.gunicorn_records

    def recorded(pids: Iterable[int] | None = None) -> list[ProcRecord]:
        scanned.append(None if pids is None else list(pids))
        return real_records(pids)

    # A spy on the real scan: it still reads /proc.
    monkeypatch.setattr(monitor_module, "gunicorn_records", recorded)
    options = MonitorOptions(targets=(parse_target(str(target.name)),), probe_versions=False)
    monitor = Monitor(options)
    try:
        monitor.open(wait_for_docker_s=30.0)
        frame = _frame_with_workers(monitor, 2)
    finally:
        monitor.close()
    main_pid = int(target.attrs["State"]["Pid"])
    paths = find_cgroup_paths(main_pid)
    assert paths is not None
    in_cgroup = set(read_cgroup_tree_pids(paths))
    assert main_pid in in_cgroup

    (instance,) = frame.instances
    assert instance.container is not None and instance.container.name == target.name
    assert instance.master.ns_pid != 1
    assert {w.process.pid for w in instance.workers} <= in_cgroup
    # Every scan looked at the target's processes only, never all of /proc.
    assert scanned and all(pids is not None and set(pids) <= in_cgroup for pids in scanned)


def _wait_for_generation_past(monitor: Monitor, generation: int, timeout_s: float = 20.0) -> None:
    watcher = monitor.watcher
    assert watcher is not None
    deadline = time.monotonic() + timeout_s
    while watcher.generation <= generation:
        assert time.monotonic() < deadline, "the watcher saw no container event"
        time.sleep(0.1)


def test_events_about_other_containers_cause_no_rescan(
    container_factory: ContainerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    target = container_factory.start(
        tags.GUNICORN_LATEST, ["gunicorn", "--bind", f"127.0.0.1:{port}", "app:app"]
    )
    container_factory.wait_http(target, port)
    scans: list[int] = []
    real_records = host_processes.gunicorn_records

    def recorded(pids: Iterable[int] | None = None) -> list[ProcRecord]:
        scans.append(1)
        return real_records(pids)

    # A spy on the real scan: it still reads /proc.
    monkeypatch.setattr(monitor_module, "gunicorn_records", recorded)
    # No periodic rescan within the test: only events may cause one.
    options = MonitorOptions(
        targets=(parse_target(str(target.name)),), probe_versions=False, rescan_interval_s=600.0
    )
    monitor = Monitor(options)
    try:
        monitor.open(wait_for_docker_s=30.0)
        (before,) = _frame_with_workers(monitor, 1).instances
        assert monitor.watcher is not None
        scans.clear()

        generation = monitor.watcher.generation
        other = container_factory.start(tags.PLAIN)
        _wait_for_generation_past(monitor, generation)
        monitor.sample()
        generation = monitor.watcher.generation
        other.remove(force=True)
        _wait_for_generation_past(monitor, generation)
        monitor.sample()
        assert scans == []  # nothing we watch changed

        generation = monitor.watcher.generation
        target.restart(timeout=5)
        _wait_for_generation_past(monitor, generation)
        container_factory.wait_http(target, port)
        (after,) = _frame_with_workers(monitor, 1).instances
    finally:
        monitor.close()
    assert scans  # the watched container changed: rescanned
    assert after.master.pid != before.master.pid
    assert after.container is not None and after.container.name == target.name
