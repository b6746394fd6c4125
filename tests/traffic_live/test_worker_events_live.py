"""Worker life events from a real error log: a worker killed with SIGKILL
(what the OOM killer sends) and a WORKER TIMEOUT, as the monitor shows them."""

from __future__ import annotations

import os
import signal
import threading

import docker
import httpx

from gunicorn_tui.traffic.error_log import ErrorLogEventKind
from gunicorn_tui.traffic.instance_traffic import TrafficView
from tests.core.monitor_waits import ns_pid
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.traffic_live.traffic_waits import traffic_monitor, traffic_until


def _booted_after(view: TrafficView, killed: int, known: set[int]) -> list[int]:
    """Workers booted after ``killed`` ended that were not known before."""
    kinds = [(e.kind, e.worker_pid) for e in view.events]
    ended = [i for i, (kind, pid) in enumerate(kinds) if pid == killed and kind in _ENDINGS]
    if not ended:
        return []
    return [
        pid
        for kind, pid in kinds[ended[0] :]
        if kind is ErrorLogEventKind.WORKER_BOOTING and pid is not None and pid not in known
    ]


_ENDINGS = {ErrorLogEventKind.WORKER_KILLED, ErrorLogEventKind.WORKER_TIMEOUT}


def _killed_oom(view: TrafficView, pid: int) -> bool:
    return any(
        e.kind is ErrorLogEventKind.WORKER_KILLED
        and e.worker_pid == pid
        and e.signal_name == "SIGKILL"
        and e.oom_suspected
        for e in view.events
    )


def test_sigkill_and_timeout_on_a_host_master(local_gunicorn: LocalGunicornFactory) -> None:
    server = local_gunicorn.start("--workers", "2", "--timeout", "2", "--graceful-timeout", "2")
    with traffic_monitor(f"pid:{server.pid}") as monitor:
        sample, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: len(s.workers) == 2 and any("gunicorn.log" in x for x in v.sources),
            timeout_s=15,
            what="2 workers and the error log followed",
        )
        workers = sorted(w.pid for w in sample.workers if w.pid is not None)
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        after_kill, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: _killed_oom(v, victim) and bool(_booted_after(v, victim, set(workers))),
            timeout_s=15,
            what=f"the kill of {victim} and a new boot",
        )
        assert view.worker_lives.oom_suspected == 1
        assert view.worker_lives.killed == 1
        assert view.worker_lives.boots >= 1
        ended = {life.pid: life for life in view.ended_workers}
        assert ended[victim].oom_suspected

        # A request longer than the timeout: the master kills its worker.
        outcome: list[str] = []

        def slow_request() -> None:
            try:
                with httpx.Client(timeout=10, trust_env=False) as client:
                    response = client.get(server.base_url + "/io?ms=6000")
                outcome.append(str(response.status_code))
            except httpx.HTTPError as error:
                outcome.append(type(error).__name__)

        thread = threading.Thread(target=slow_request, daemon=True)
        thread.start()
        _, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: v.worker_lives.timeouts >= 1,
            timeout_s=15,
            what="a WORKER TIMEOUT",
        )
        thread.join(10)
    timeouts = [e for e in view.events if e.kind is ErrorLogEventKind.WORKER_TIMEOUT]
    assert len(timeouts) == 1
    timed_out = timeouts[0].worker_pid
    assert timed_out is not None
    assert timed_out in {w.pid for w in after_kill.workers}
    assert outcome and outcome != ["200"], outcome
    # Lines of the error log that are not events (tracebacks) are not access
    # lines gone wrong.
    assert view.lines.unparsed == 0, view.lines.recent_unparsed


def test_sigkill_of_a_container_worker_from_the_host(
    container_factory: ContainerFactory, docker_client: docker.DockerClient
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "app:app"],
    )
    container_factory.wait_http(container, port)
    container.reload()
    master_pid = int(container.attrs["State"]["Pid"])
    assert container.name is not None
    with traffic_monitor(container.name, use_docker=True) as monitor:
        sample, view, _ = traffic_until(
            monitor,
            master_pid,
            lambda s, v: len(s.workers) == 2 and "container log stream" in v.sources,
            timeout_s=20,
            what="2 workers and the container log stream",
        )
        victim_host = min(w.pid for w in sample.workers if w.pid is not None)
        victim = ns_pid(victim_host)  # the error log names container pids
        known = {ns_pid(w.pid) for w in sample.workers if w.pid is not None}
        os.kill(victim_host, signal.SIGKILL)
        _, view, _ = traffic_until(
            monitor,
            master_pid,
            lambda s, v: _killed_oom(v, victim) and bool(_booted_after(v, victim, known)),
            timeout_s=15,
            what=f"the kill of container pid {victim} and a new boot",
        )
    assert view.worker_lives.oom_suspected == 1
