"""``--api-only``: sampling a container through the Docker API alone.

This is what gtui does with a remote daemon or Docker Desktop, where the
container's pids are not this host's. Here the daemon is local, so every
figure the API gives can be checked against /proc and ``docker stats``, and
every figure it cannot give must be null with a reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

import psutil

from gunicorn_tui.sampling.api_instance import NOT_EXPOSED
from tests.core.monitor_waits import container_processes, run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags

PROCESS_FIGURES = ("cpu_percent", "rss_bytes", "uss_bytes", "ns_pid", "age_s")


def _docker_stats_memory_bytes(container_id: str) -> int:
    completed = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container_id],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    match = re.fullmatch(r"([\d.]+)\s*([KMG]iB)", completed.stdout.split("/")[0].strip())
    assert match, completed.stdout
    return int(
        float(match.group(1)) * {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[match.group(2)]
    )


def _nulls_have_reasons(process: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    for name in (*PROCESS_FIGURES, *extra):
        if process[name] is None:
            assert process["unavailable"].get(name), (name, process)


def test_api_only_snapshot(container_factory: ContainerFactory) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "30", "app:app"],
    )
    container_factory.wait_http(container, port)
    deadline = time.monotonic() + 15
    while len(rows := container_processes(container)) < 3:
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)
    container.reload()
    master_pid = container.attrs["State"]["Pid"]
    worker_pids = sorted(pid for pid, ppid, _ in rows if ppid == master_pid)

    # Two samples 2 s apart: the stats stream needs a second message for CPU.
    done = run_gtui("snapshot", "--json", "--api-only", "--interval", "2", container.name or "")

    assert done.returncode == 0, done.stderr
    (instance,) = json.loads(done.stdout)["instances"]
    reference_memory = _docker_stats_memory_bytes(container.id or "")
    assert instance["sampling"] == "api"
    assert instance["container"]["id"] == container.id
    assert any("Docker API" in warning for warning in instance["warnings"])

    master, workers = instance["master"], instance["workers"]
    assert master["pid"] == master_pid
    assert sorted(w["pid"] for w in workers) == worker_pids
    for process in [master, *workers]:
        # Not in the API: per-process CPU, USS, container pids.
        for name in ("cpu_percent", "uss_bytes", "ns_pid"):
            assert process[name] is None
            assert process["unavailable"][name] == NOT_EXPOSED
        assert process["uss_age_s"] is None  # no USS, no age of one
        # From `docker top`: RSS (ps reads the same /proc/<pid>/statm).
        rss = psutil.Process(process["pid"]).memory_info().rss
        assert abs(process["rss_bytes"] - rss) <= max(1024**2, rss // 10)
        assert process["age_s"] is not None and process["age_s"] >= 0
        _nulls_have_reasons(
            process, ("heartbeat_age_s", "client_connections") if process is not master else ()
        )
    for worker in workers:
        assert worker["client_connections"] is None
        # Heartbeats come from the control socket, through docker exec.
        assert worker["heartbeat_age_s"] is not None
        assert 0 <= worker["heartbeat_age_s"] <= 30 / 2 + 2
    assert instance["workers_target"] == 2

    # Container totals from the stats stream.
    totals = instance["totals"]
    assert totals["cpu_percent"] is not None and 0 <= totals["cpu_percent"] < 100
    assert totals["memory_bytes"] is not None
    assert abs(totals["memory_bytes"] - reference_memory) <= max(
        4 * 1024**2, reference_memory // 10
    )

    # Configuration from the container's command (titles hide the master's).
    config = instance["config"]
    assert config["workers"]["value"] == 2
    assert config["workers"]["declared_in"] == "command line"
    assert config["bind"]["value"] == f"127.0.0.1:{port}"
