"""Host Gunicorn masters (``pid:N`` targets) and the per-worker figures and states.

The servers are real ``python -m gunicorn`` processes started by the harness;
figures are compared with psutil's own reading of the same processes over
the same interval, and states are provoked with real requests: a CPU burn, a
slow I/O request, a request that outlives 3/4 of the timeout, a slow app
import.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as installed_version
from pathlib import Path

import httpx
import psutil

from gunicorn_tui.model.instances import ConfigSource, InstanceSample, WorkerState
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame
from tests.core.monitor_waits import by_master, open_monitor, run_gtui, sample_until
from tests.harness.local_gunicorn import SAMPLE_APP_DIR, LocalGunicorn, LocalGunicornFactory


@contextmanager
def request_in_background(url: str, timeout_s: float) -> Iterator[list[httpx.Response]]:
    """GET ``url`` in a thread; the list holds the response once it came."""
    responses: list[httpx.Response] = []

    def get() -> None:
        try:
            with httpx.Client(timeout=timeout_s, trust_env=False) as client:
                responses.append(client.get(url))
        except httpx.HTTPError:
            pass  # a killed worker closes the connection

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    try:
        yield responses
    finally:
        thread.join(timeout_s + 1)


def _instance(frame: MonitorFrame, server: LocalGunicorn) -> InstanceSample | None:
    return by_master(frame, server.pid)


def _workers_up(monitor: Monitor, server: LocalGunicorn, count: int) -> InstanceSample:
    def ready(frame: MonitorFrame) -> bool:
        sample = _instance(frame, server)
        return sample is not None and len(sample.workers) == count

    frame = sample_until(monitor, ready, timeout_s=15, what=f"{count} workers")
    sample = _instance(frame, server)
    assert sample is not None
    return sample


# --- pid targets and the CLI ------------------------------------------------------


def test_snapshot_of_a_host_master_by_its_pid_and_by_a_workers_pid(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "2", "--timeout", "25")
    master = psutil.Process(server.pid)
    deadline = time.monotonic() + 10
    while len(master.children()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    workers = sorted(child.pid for child in master.children())

    by_own_pid = run_gtui(
        "snapshot", "--json", "--no-docker", "--interval", "0.3", f"pid:{server.pid}"
    )
    by_worker = run_gtui(
        "snapshot", "--json", "--no-docker", "--interval", "0.3", f"pid:{workers[1]}"
    )

    for done in (by_own_pid, by_worker):
        assert done.returncode == 0, done.stderr
        (instance,) = json.loads(done.stdout)["instances"]
        assert instance["source"] == "local"
        assert instance["container"] is None
        assert instance["key"] == f"local:{server.pid}"
        assert instance["master"]["pid"] == instance["master"]["ns_pid"] == server.pid
        assert sorted(w["pid"] for w in instance["workers"]) == workers
        assert all(w["ns_pid"] == w["pid"] for w in instance["workers"])
        assert instance["gunicorn_version"] == installed_version("gunicorn")
        config = instance["config"]
        # setproctitle hid the command line and no wrapper shows it: the
        # values come from the control socket, where they were declared is unknown.
        assert config["workers"] == {
            "value": 2,
            "source": "control socket",
            "declared_in": "unknown",
        }
        assert config["timeout"]["value"] == 25
        assert config["bind"]["value"] == f"127.0.0.1:{server.port}"
        assert instance["control_socket"] == "gunicorn.ctl"


def test_local_master_without_control_socket_says_its_config_is_unknown(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "1", "--no-control-socket")
    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        sample = _workers_up(monitor, server, 1)
    for name in ("workers", "timeout", "bind", "worker_class"):
        setting = sample.config.get(name)
        assert (setting.value, setting.source) == (None, ConfigSource.UNKNOWN), name
    assert sample.control_socket is None
    assert any("hidden by setproctitle" in w for w in sample.config.warnings)


# --- figures ---------------------------------------------------------------------------


def test_cpu_of_a_busy_worker_is_high_and_of_an_idle_one_low(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "2")
    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        _workers_up(monitor, server, 2)
        with request_in_background(f"{server.base_url}/cpu?ms=2500", timeout_s=15):
            time.sleep(0.3)  # let a worker take the request
            monitor.sample()
            processes = [
                psutil.Process(p) for p in {c.pid for c in psutil.Process(server.pid).children()}
            ]
            before = {p.pid: sum(p.cpu_times()[:2]) for p in processes}
            started = time.monotonic()
            time.sleep(1.0)
            frame = monitor.sample()
            elapsed = time.monotonic() - started
            after = {p.pid: sum(p.cpu_times()[:2]) for p in processes}
    sample = _instance(frame, server)
    assert sample is not None
    figures = {w.pid: w for w in sample.workers}
    reference = {pid: (after[pid] - before[pid]) / elapsed * 100 for pid in before}
    busy_pid = max(reference, key=lambda pid: reference[pid])
    idle_pid = min(reference, key=lambda pid: reference[pid])
    # This machine is shared: a burning worker gets what the scheduler gives
    # it, so "high" is measured against psutil's reading of the same window.
    assert reference[busy_pid] > 15, reference  # the burn really ran
    busy, idle = figures[busy_pid], figures[idle_pid]
    assert busy.process.cpu_percent is not None and idle.process.cpu_percent is not None
    assert abs(busy.process.cpu_percent - reference[busy_pid]) <= 10 + 0.2 * reference[busy_pid]
    assert idle.process.cpu_percent < 5
    assert busy.process.cpu_percent > idle.process.cpu_percent + 10
    assert busy.state is WorkerState.BUSY
    assert idle.state is WorkerState.IDLE
    assert sample.master.cpu_percent is not None and sample.master.cpu_percent < 10
    # Host totals: the sum of the processes, not a cgroup.
    assert sample.totals.from_cgroup is False
    assert sample.totals.cpu_percent is not None
    assert sample.totals.cpu_percent >= busy.process.cpu_percent


def test_sync_worker_waiting_on_io_is_busy_through_its_client_connection(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "2")
    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        _workers_up(monitor, server, 2)
        with request_in_background(f"{server.base_url}/io?ms=2500", timeout_s=15) as responses:

            def one_busy(frame: MonitorFrame) -> bool:
                sample = _instance(frame, server)
                return (
                    sample is not None
                    and [w.state for w in sample.workers].count(WorkerState.BUSY) == 1
                )

            frame = sample_until(monitor, one_busy, timeout_s=2, interval_s=0.2)
        sample = _instance(frame, server)
        assert sample is not None
        (busy,) = [w for w in sample.workers if w.state is WorkerState.BUSY]
        (idle,) = [w for w in sample.workers if w.state is not WorkerState.BUSY]
        assert busy.client_connections == 1
        assert busy.process.cpu_percent is not None and busy.process.cpu_percent < 10
        assert idle.client_connections == 0
        assert idle.state is WorkerState.IDLE
    assert responses and responses[0].json()["pid"] == busy.pid


def test_a_request_past_three_quarters_of_the_timeout_makes_the_worker_stuck(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    timeout_s = 6
    server = local_gunicorn.start("--workers", "1", "--timeout", str(timeout_s))
    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        (worker,) = _workers_up(monitor, server, 1).workers
        with request_in_background(f"{server.base_url}/io?ms=20000", timeout_s=25):

            def stuck(frame: MonitorFrame) -> bool:
                sample = _instance(frame, server)
                return sample is not None and any(
                    w.pid == worker.pid and w.state is WorkerState.STUCK for w in sample.workers
                )

            # The heartbeat can be up to timeout/2 old when the request arrives.
            frame = sample_until(monitor, stuck, timeout_s=timeout_s + 2, interval_s=0.2)
            sample = _instance(frame, server)
            assert sample is not None
            (seen,) = [w for w in sample.workers if w.pid == worker.pid]
            assert seen.heartbeat_age_s is not None
            assert 0.75 * timeout_s < seen.heartbeat_age_s <= timeout_s + 1.5
            # The master kills it at the timeout and starts another.
            sample_until(
                monitor,
                lambda f: (
                    (s := _instance(f, server)) is not None
                    and [w.pid for w in s.workers] not in ([], [worker.pid])
                ),
                timeout_s=timeout_s + 4,
                what="the stuck worker replaced",
            )
    assert "WORKER TIMEOUT" in server.log_text()


SLOW_APP = """\
import os
import time

import sample_app

# Import slowly while the marker file exists: a worker booted then is
# seen before it ever touched its heartbeat.
if os.path.exists({marker!r}):
    time.sleep(4)

app = sample_app.app
"""


def test_a_worker_importing_a_slow_app_is_booting(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "slow"
    (tmp_path / "slow_app.py").write_text(SLOW_APP.format(marker=str(marker)))
    server = local_gunicorn.start(
        "--workers", "1", "--pythonpath", f"{tmp_path},{SAMPLE_APP_DIR}", app="slow_app:app"
    )
    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        (first,) = _workers_up(monitor, server, 1).workers
        marker.touch()
        os.kill(server.pid, signal.SIGTTIN)

        def booting(frame: MonitorFrame) -> bool:
            sample = _instance(frame, server)
            return sample is not None and any(
                w.pid != first.pid and w.state is WorkerState.BOOTING for w in sample.workers
            )

        frame = sample_until(monitor, booting, timeout_s=3, interval_s=0.2)
        sample = _instance(frame, server)
        assert sample is not None
        (new,) = [w for w in sample.workers if w.pid != first.pid]
        assert new.process.age_s is not None and new.process.age_s < 4
        assert {w.state for w in sample.workers if w.pid == first.pid} == {WorkerState.IDLE}
        # Once the import is done it serves like the other.
        sample_until(
            monitor,
            lambda f: (
                (s := _instance(f, server)) is not None
                and [w.state for w in s.workers if w.pid == new.pid] == [WorkerState.IDLE]
            ),
            timeout_s=8,
            what="the new worker idle",
        )
