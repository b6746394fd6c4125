"""Full detail from afar: ``gtui agent`` run over the SSH connection of ``ssh://hostb``.

Host B's "remote" gtui is this checkout, started over SSH (GTUI_REMOTE_GTUI
names how, as a user would point at a venv): its figures must be those a
local gtui on host B reads, in the same run. Without a gtui there, or with
one of another schema version, the local gtui says so and samples through
B's Docker API, each missing figure null with its reason.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.remote.conftest import HostB

WITH_GTUI = {"GTUI_REMOTE_GTUI": f"{sys.executable} -m gunicorn_tui"}


def _gunicorn(factory: ContainerFactory, workers: int) -> Container:
    port = free_port()
    container = factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "30", "app:app"],
    )
    factory.wait_http(container, port)
    return container


def _instance(done: Any) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    (instance,) = document["instances"]
    instance["_notices"] = document["notices"]
    return dict(instance)


def test_agent_gives_the_figures_a_local_gtui_on_b_reads(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    container = _gunicorn(factory_b, 4)
    remote = run_gtui("snapshot", "--json", "-H", host_b.url, f"hostb/{container.name}",
                      env=WITH_GTUI)  # fmt: skip
    # A local gtui on host B: the same engine, from B's own side.
    local = run_gtui("snapshot", "--json", "-H", host_b.engine.url, f"{container.name}")
    far, near = _instance(remote), _instance(local)

    assert far["host"] == "hostb" and far["sampling"] == near["sampling"] == "procfs"
    assert far["container"] == near["container"]
    assert far["master"]["pid"] == near["master"]["pid"]
    assert sorted(w["pid"] for w in far["workers"]) == sorted(w["pid"] for w in near["workers"])
    assert far["config"]["workers"] == near["config"]["workers"]
    assert far["gunicorn_version"] == near["gunicorn_version"]
    near_by_pid = {w["pid"]: w for w in near["workers"]}
    for worker in far["workers"]:
        twin = near_by_pid[worker["pid"]]
        # Full detail, as on B itself: per-worker CPU, USS, heartbeat, connections.
        for name in ("cpu_percent", "uss_bytes", "heartbeat_age_s", "client_connections"):
            assert worker[name] is not None, (name, worker["unavailable"])
        assert abs(worker["cpu_percent"] - twin["cpu_percent"]) <= 5.0
        assert abs(worker["uss_bytes"] - twin["uss_bytes"]) <= max(2 << 20, twin["uss_bytes"] // 5)
        assert worker["ns_pid"] == twin["ns_pid"]
    assert not any("Docker API only" in notice for notice in far["_notices"])


def test_without_gtui_on_b_api_only_with_reasons_and_a_hint(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    container = _gunicorn(factory_b, 2)
    done = run_gtui("snapshot", "--json", "-H", host_b.url, f"hostb/{container.name}",
                    env={"GTUI_REMOTE_GTUI": "/nonexistent/gtui"})  # fmt: skip
    instance = _instance(done)
    assert instance["sampling"] == "api"
    for worker in instance["workers"]:
        for name in ("cpu_percent", "uss_bytes", "client_connections"):
            assert worker[name] is None and worker["unavailable"][name]
    (hint,) = [n for n in instance["_notices"] if "Docker API only" in n]
    assert "no gtui on hostb" in hint and "install gtui on hostb" in hint


def test_a_remote_gtui_of_another_schema_is_named_and_not_read(
    host_b: HostB, factory_b: ContainerFactory, tmp_path: Path
) -> None:
    # A stand-in for an older or newer gtui (another release cannot be
    # installed here): it says hello as such a gtui would, then streams.
    other = tmp_path / "other-gtui"
    other.write_text(
        "#!/bin/sh\n"
        'echo \'{"agent": "gtui.agent/1", "schema": "gtui.snapshot/9", "version": "9.0"}\'\n'
        "sleep 30\n"
    )
    other.chmod(other.stat().st_mode | stat.S_IXUSR)
    container = _gunicorn(factory_b, 1)
    done = run_gtui("snapshot", "--json", "-H", host_b.url, f"hostb/{container.name}",
                    env={"GTUI_REMOTE_GTUI": str(other)})  # fmt: skip
    instance = _instance(done)
    assert instance["sampling"] == "api"
    (hint,) = [n for n in instance["_notices"] if "Docker API only" in n]
    assert "remote gtui 9.0" in hint and "gtui.snapshot/9" in hint


@pytest.mark.skipif(os.geteuid() != 0, reason="B's sshd logs in as root")
def test_actions_on_an_agent_host_go_through_its_engine(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    container = _gunicorn(factory_b, 1)
    done = run_gtui("scale", f"hostb/{container.name}", "+1", "--yes", "--json",
                    "-H", host_b.url, env=WITH_GTUI, timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)["plan"]
    assert plan["host"] == "hostb"
    assert any("through its Docker engine's API" in note for note in plan["notes"]), plan["notes"]


def test_kill_worker_by_the_pid_the_agent_shows(host_b: HostB, factory_b: ContainerFactory) -> None:
    container = _gunicorn(factory_b, 2)
    seen = _instance(run_gtui("snapshot", "--json", "-H", host_b.url,
                              f"hostb/{container.name}", env=WITH_GTUI))  # fmt: skip
    assert seen["sampling"] == "procfs"  # from the agent
    victim = seen["workers"][0]["pid"]
    done = run_gtui("kill-worker", f"hostb/{container.name}", str(victim), "--yes", "--json",
                    "-H", host_b.url, env=WITH_GTUI, timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["plan"]["host"] == "hostb"
    # The master replaced exactly that worker.
    deadline = time.monotonic() + 30
    while True:
        rows = host_b.engine.client.api.top(container.id or "", ps_args="-eo pid,ppid")["Processes"]
        pids = {int(row[0]) for row in rows}
        if victim not in pids and len(pids) == 3:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.3)
