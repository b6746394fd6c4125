"""Docker events and a daemon that comes and goes, against real daemons.

Containers run on the machine's engine. The daemon that goes away and comes
back is a second, private dockerd (tests/core/throwaway_dockerd.py): the
shared one is never stopped.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from gunicorn_tui.discovery.docker_engine import ContainerWatcher, DaemonState
from gunicorn_tui.monitor.monitor import MonitorFrame
from tests.core.monitor_waits import by_master, in_container, open_monitor, sample_until
from tests.core.throwaway_dockerd import ThrowawayDockerd
from tests.harness.containers import NAME_PREFIX, ContainerFactory
from tests.harness.docker_access import docker_unavailable
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port
from tests.images import tags


def test_containers_started_stopped_and_recreated_come_and_go(
    container_factory: ContainerFactory,
) -> None:
    name = f"{NAME_PREFIX}events-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    command = ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "app:app"]
    # Watching everything, as the dashboard does by default; the rescan
    # interval is long, so the container set must come from events.
    with open_monitor(rescan_interval_s=60) as monitor:
        assert monitor.docker_status().connected
        monitor.sample()

        first = container_factory.start(tags.GUNICORN_LATEST, command, name=name)
        container_factory.wait_http(first, port)
        frame = sample_until(
            monitor, lambda f: bool(in_container(f, first.id or "")), timeout_s=10, what="started"
        )
        (instance,) = in_container(frame, first.id or "")
        # Name and image come from the engine (events), not from /proc.
        assert instance.container is not None
        assert (instance.container.name, instance.container.image) == (name, tags.GUNICORN_LATEST)

        first.stop(timeout=5)
        notices: list[str] = []

        def stopped(frame: MonitorFrame) -> bool:
            notices.extend(frame.notices)
            return not in_container(frame, first.id or "")

        sample_until(monitor, stopped, timeout_s=10, what="stopped")
        assert any("master exited" in notice for notice in notices), notices
        watcher = monitor.watcher
        assert watcher is not None and first.id not in watcher.containers()

        # Re-created: same name, new id.
        first.remove()
        second = container_factory.start(tags.GUNICORN_LATEST, command, name=name)
        assert second.id != first.id
        container_factory.wait_http(second, port)
        frame = sample_until(
            monitor,
            lambda f: bool(in_container(f, second.id or "")),
            timeout_s=10,
            what="re-created",
        )
        assert not in_container(frame, first.id or "")
        (instance,) = in_container(frame, second.id or "")
        assert instance.container is not None and instance.container.name == name


def test_a_target_named_by_container_name_follows_its_recreation(
    container_factory: ContainerFactory,
) -> None:
    name = f"{NAME_PREFIX}retarget-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    command = ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "app:app"]
    first = container_factory.start(tags.GUNICORN_LATEST, command, name=name)
    container_factory.wait_http(first, port)
    with open_monitor(name, rescan_interval_s=60) as monitor:
        sample_until(monitor, lambda f: bool(in_container(f, first.id or "")), timeout_s=10)
        first.remove(force=True)
        second = container_factory.start(tags.GUNICORN_LATEST, command, name=name)
        container_factory.wait_http(second, port)
        frame = sample_until(
            monitor, lambda f: bool(in_container(f, second.id or "")), timeout_s=10
        )
        assert [s.container.id for s in frame.instances if s.container] == [second.id]


@pytest.fixture
def throwaway_dockerd() -> Iterator[ThrowawayDockerd]:
    daemon = ThrowawayDockerd()
    try:
        try:
            daemon.start()
        except RuntimeError as error:
            docker_unavailable(f"a second dockerd cannot run here: {error}")
        yield daemon
    finally:
        daemon.close()


def test_daemon_lost_mid_session_then_back(
    throwaway_dockerd: ThrowawayDockerd,
    local_gunicorn: LocalGunicornFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = local_gunicorn.start("--workers", "1")
    monkeypatch.setenv("DOCKER_HOST", throwaway_dockerd.host)
    with open_monitor() as monitor:
        watcher = monitor.watcher
        assert isinstance(watcher, ContainerWatcher)
        assert watcher.status().connected, watcher.status()
        assert watcher.status().host == throwaway_dockerd.host

        throwaway_dockerd.stop()

        def lost(frame: MonitorFrame) -> bool:
            # The host server is sampled all along.
            assert by_master(frame, server.pid) is not None, frame.notices
            return frame.docker.state is DaemonState.UNREACHABLE

        frame = sample_until(monitor, lost, timeout_s=15, what="daemon reported lost")
        assert frame.docker.message
        assert watcher.client is None

        throwaway_dockerd.start()

        def back(frame: MonitorFrame) -> bool:
            assert by_master(frame, server.pid) is not None, frame.notices
            return frame.docker.state is DaemonState.CONNECTED

        # The watcher retries with a backoff of at most 4 s.
        sample_until(monitor, back, timeout_s=15, what="daemon reconnected")
        client = watcher.client
        assert client is not None
        assert client.ping()


def test_shared_daemon_is_untouched_by_the_throwaway_one(
    throwaway_dockerd: ThrowawayDockerd, docker_client: docker.DockerClient
) -> None:
    # Guard for the test above: the two daemons really are separate.
    private = docker.DockerClient(base_url=throwaway_dockerd.host)
    try:
        assert private.containers.list(all=True) == []
        assert private.info()["DockerRootDir"] == str(throwaway_dockerd.root / "data")
        assert docker_client.info()["DockerRootDir"] != private.info()["DockerRootDir"]
    finally:
        private.close()
    started = time.monotonic()
    throwaway_dockerd.stop()
    assert docker_client.ping()
    assert time.monotonic() - started < 30
