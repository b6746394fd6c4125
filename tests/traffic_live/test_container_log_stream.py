"""A container logging to stdout (``--access-logfile -``): gtui reads the
container's log stream; counts are exact, and the container pids in the log
are mapped to host pids through the workers the monitor sampled."""

from __future__ import annotations

import docker

from tests.core.monitor_waits import ns_pid
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.traffic_live.traffic_waits import (
    PID_AND_DURATION_FORMAT,
    get_many,
    settle,
    traffic_monitor,
    traffic_until,
)

REQUESTS = 240


def test_container_log_stream_counts_exact_with_host_pids(
    container_factory: ContainerFactory, docker_client: docker.DockerClient
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        [
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--access-logfile",
            "-",
            "--access-logformat",
            PID_AND_DURATION_FORMAT,
            "app:app",
        ],
    )
    container_factory.wait_http(container, port)
    container.reload()
    master_pid = int(container.attrs["State"]["Pid"])
    assert container.name is not None
    with traffic_monitor(container.name, use_docker=True) as monitor:
        sample, view, _ = traffic_until(
            monitor,
            master_pid,
            lambda s, v: len(s.workers) == 3 and "container log stream" in v.sources,
            timeout_s=20,
            what="3 workers and the container log stream",
        )
        truth = get_many(f"http://127.0.0.1:{port}", "/fast", REQUESTS)
        traffic_until(
            monitor,
            master_pid,
            lambda s, v: v.snapshot.requests_total >= REQUESTS,
            timeout_s=20,
            what=f"{REQUESTS} requests counted",
        )
        sample, view, _ = settle(monitor, master_pid)

    assert view.snapshot.requests_total == REQUESTS
    assert view.request_source == "access log"
    assert view.lines.unparsed == 0, view.lines.recent_unparsed
    # The app reports its container pid, and so does the log.
    by_logged_pid = {w.logged_pid: w.requests_total for w in view.snapshot.workers}
    assert by_logged_pid == dict(truth)
    # Each worker's host pid, read independently of gtui (NSpid).
    host_by_container_pid = {ns_pid(w.pid): w.pid for w in sample.workers if w.pid is not None}
    assert set(truth) <= set(host_by_container_pid)
    for worker in view.snapshot.workers:
        assert worker.host_pid == host_by_container_pid[worker.logged_pid]
        assert worker.host_pid != worker.logged_pid
