"""Two engines in one view: this machine's and host B's, reached over SSH.

Real engines, a real sshd, real Gunicorn containers: one snapshot shows
both, attributed by host; actions on B leave A alone; B's sshd killed
mid-session marks B, A keeps updating, and B comes back.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.control.durability.state_dir import STATE_DIR_ENV
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.remote.conftest import HostB

LOCAL = "unix:///var/run/docker.sock"


def _gunicorn(factory: ContainerFactory, workers: int) -> tuple[Container, int]:
    port = free_port()
    container = factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--timeout", "30", "app:app"],
    )
    factory.wait_http(container, port)
    return container, port


def _engines(host_b: HostB) -> tuple[str, ...]:
    return ("-H", LOCAL, "-H", host_b.url)


def _snapshot(host_b: HostB, *targets: str) -> dict[str, Any]:
    done = run_gtui("snapshot", "--json", "--interval", "1", *_engines(host_b), *targets)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _workers_of(container: Container) -> int:
    container.reload()
    rows = container.top(ps_args="-eo pid,ppid,args")["Processes"]
    master = container.attrs["State"]["Pid"]
    return sum(1 for row in rows if int(row[1]) == master)


def test_one_snapshot_shows_both_engines_by_host(
    host_b: HostB, container_factory: ContainerFactory, factory_b: ContainerFactory
) -> None:
    on_a, _ = _gunicorn(container_factory, 2)
    on_b, _ = _gunicorn(factory_b, 3)
    document = _snapshot(host_b, f"local/{on_a.name}", f"hostb/{on_b.name}")

    by_container = {i["container"]["name"]: i for i in document["instances"]}
    assert set(by_container) == {on_a.name, on_b.name}
    a, b = by_container[on_a.name], by_container[on_b.name]
    assert (a["host"], a["container"]["id"]) == ("local", on_a.id)
    assert (b["host"], b["container"]["id"]) == ("hostb", on_b.id)
    assert b["sampling"] == "api"  # B's pids are not this host's to read
    assert a["workers_current"] == 2 and b["workers_current"] == 3
    engines = {e["name"]: e for e in document["engines"]}
    assert engines["local"]["state"] == engines["hostb"]["state"] == "connected"
    assert engines["hostb"]["address"] == "ssh://hostb"
    assert engines["local"]["engine_id"] != engines["hostb"]["engine_id"]


def test_a_container_name_on_one_host_only_by_host_prefix(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    on_b, _ = _gunicorn(factory_b, 1)
    done = run_gtui("snapshot", "--json", *_engines(host_b), f"local/{on_b.name}")
    assert done.returncode == 3, done.stderr  # not on engine "local"
    assert f"{on_b.name}" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_same_engine_by_two_names_is_shown_once(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    on_b, _ = _gunicorn(factory_b, 1)
    done = run_gtui(
        "snapshot", "--json", "--interval", "0.5",
        "-H", host_b.url, "-H", host_b.engine.url, f"{on_b.name}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert len(document["instances"]) == 1
    assert any("same engine" in notice for notice in document["notices"]), document["notices"]


def test_scale_and_retune_on_b_leave_a_alone(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    tmp_path: Path,
) -> None:
    on_a, _ = _gunicorn(container_factory, 2)
    on_b, _ = _gunicorn(factory_b, 2)
    a_before = docker.from_env().api.inspect_container(on_a.id or "")

    state = {STATE_DIR_ENV: str(tmp_path / "state")}
    done = run_gtui("scale", f"hostb/{on_b.name}", "=3", "--yes", "--json", *_engines(host_b),
                    env=state, timeout_s=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["plan"]["host"] == "hostb"
    _wait(lambda: _workers_of(on_b) == 3, "3 workers on B")

    done = run_gtui("retune", f"hostb/{on_b.name}", "--workers", "1", "--timeout", "20",
                    "--yes", "--json", *_engines(host_b), env=state, timeout_s=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    retuned = json.loads(done.stdout)
    assert retuned["plan"]["host"] == "hostb"
    # The journal of the action names the host too.
    journal = json.loads(Path(retuned["outcome"]["journal_path"]).read_text())
    assert journal["host"] == "hostb" and journal["target_label"].startswith(on_b.name)
    # The retune re-created B's container on engine B, under its name.
    renewed = host_b.engine.client.containers.get(on_b.name or "")
    assert renewed.id != on_b.id
    _wait(lambda: _workers_of(renewed) == 1, "1 worker on B")
    assert renewed.attrs["Args"][-1] == "app:app" and "20" in renewed.attrs["Args"]

    # Each audit line names the host acted on.
    audit = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["host"] for line in audit] == ["hostb", "hostb"]

    a_after = docker.from_env().api.inspect_container(on_a.id or "")
    assert a_after["State"]["StartedAt"] == a_before["State"]["StartedAt"]
    assert a_after["Args"] == a_before["Args"]
    assert _workers_of(on_a) == 2


def _frame_until(monitor: Monitor, check: Callable[[MonitorFrame], bool], what: str,
                 timeout_s: float = 60.0) -> MonitorFrame:  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        frame = monitor.sample()
        if check(frame):
            return frame
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {frame.engines}"
        time.sleep(0.5)


@pytest.mark.parametrize("agent", [False, True], ids=["api-only", "agent"])
def test_b_dropping_out_is_marked_and_comes_back(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
    agent: bool,
) -> None:
    remote = f"{sys.executable} -m gunicorn_tui" if agent else "/nonexistent/gtui"
    monkeypatch.setenv("GTUI_REMOTE_GTUI", remote)
    on_a, _ = _gunicorn(container_factory, 1)
    on_b, _ = _gunicorn(factory_b, 1)
    options = MonitorOptions(
        targets=(parse_target(f"local/{on_a.name}"), parse_target(f"hostb/{on_b.name}")),
        engines=resolve_endpoints([LOCAL, host_b.url]),
        collect_traffic=False,
        statsd_address=None,
    )
    monitor = Monitor(options)
    monitor.open(wait_for_docker_s=30)
    try:

        def both(frame: MonitorFrame) -> bool:
            hosts = {(i.host, i.stale is None) for i in frame.instances}
            # With the agent, B's figures are full ones (per-worker CPU).
            full = not agent or all(
                w.process.cpu_percent is not None
                for i in frame.instances
                if i.host == "hostb"
                for w in i.workers
            )
            return hosts == {("local", True), ("hostb", True)} and full

        _frame_until(monitor, both, "both hosts sampled")
        host_b.sshd.kill()

        def b_marked(frame: MonitorFrame) -> bool:
            states = {e.name: e.connected for e in frame.engines}
            stale = [i for i in frame.instances if i.host == "hostb" and i.stale]
            return states == {"local": True, "hostb": False} and len(stale) == 1

        marked = _frame_until(monitor, b_marked, "B marked unreachable")
        (kept,) = [i for i in marked.instances if i.host == "hostb"]
        assert kept.container is not None and kept.container.id == on_b.id
        assert "hostb" in (kept.stale or "")
        # A keeps updating meanwhile.
        first_a = next(i for i in marked.instances if i.host == "local").taken_at
        later = _frame_until(
            monitor,
            lambda f: any(i.host == "local" and i.taken_at > first_a for i in f.instances),
            "A updating",
        )
        assert any(i.host == "hostb" and i.stale for i in later.instances)

        host_b.sshd.start()
        _frame_until(monitor, both, "B back", timeout_s=90)
    finally:
        monitor.close()


def test_b_hanging_does_not_hold_up_a(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", "/nonexistent/gtui")
    on_a, _ = _gunicorn(container_factory, 1)
    on_b, _ = _gunicorn(factory_b, 1)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"local/{on_a.name}"), parse_target(f"hostb/{on_b.name}")),
            engines=resolve_endpoints([LOCAL, host_b.url]),
            collect_traffic=False,
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    frozen = []
    try:
        _frame_until(
            monitor,
            lambda f: (
                {(i.host, i.stale is None) for i in f.instances}
                == {("local", True), ("hostb", True)}
            ),
            "both hosts sampled",
        )
        frozen = host_b.sshd.freeze()
        assert frozen
        # B says nothing, its connections stay open: every frame still comes
        # in bounded time with A's figures current, and B's marked once late.
        slowest, last_a, b_marked = 0.0, 0.0, False
        ends = time.monotonic() + 20
        while time.monotonic() < ends:
            started = time.monotonic()
            frame = monitor.sample()
            slowest = max(slowest, time.monotonic() - started)
            (a,) = [i for i in frame.instances if i.host == "local"]
            assert a.stale is None and a.taken_at > last_a
            last_a = a.taken_at
            b_marked = b_marked or any(i.host == "hostb" and i.stale for i in frame.instances)
            time.sleep(0.5)
        assert slowest < 3.0, slowest  # REMOTE_WAIT_S (1.5 s) and some
        assert b_marked
    finally:
        host_b.sshd.thaw(frozen)
        monitor.close()


def test_one_name_on_two_engines_must_be_named_with_its_host(
    host_b: HostB, container_factory: ContainerFactory, factory_b: ContainerFactory
) -> None:
    name = f"gtui-test-twice-{uuid.uuid4().hex[:8]}"
    for factory in (container_factory, factory_b):
        port = free_port()
        container = factory.start(
            tags.GUNICORN_LATEST, ["gunicorn", "-b", f"127.0.0.1:{port}", "app:app"], name=name
        )
        factory.wait_http(container, port)
    done = run_gtui("scale", name, "=2", "--yes", *_engines(host_b))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert f"{name} is on 2 engines; name one of them: hostb/{name}, local/{name}" in line
    # Named with its host, it is that one.
    document = _snapshot(host_b, f"hostb/{name}")
    assert [i["host"] for i in document["instances"]] == ["hostb"]


def test_ls_and_watch_name_the_host(
    host_b: HostB, container_factory: ContainerFactory, factory_b: ContainerFactory
) -> None:
    on_a, _ = _gunicorn(container_factory, 1)
    on_b, _ = _gunicorn(factory_b, 1)
    targets = (f"local/{on_a.name}", f"hostb/{on_b.name}")
    done = run_gtui("ls", *_engines(host_b), *targets)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["HOST", "SOURCE", "CONTAINER"]
    rows = {line.split()[2]: line.split()[0] for line in lines[1:3]}
    assert rows == {on_a.name: "local", on_b.name: "hostb"}
    assert "engine local: connected" in done.stdout and "engine hostb: connected" in done.stdout

    done = run_gtui("watch", "--jsonl", "--count", "2", "--interval", "0.5",
                    *_engines(host_b), *targets)  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if '"key"' in line]
    hosts = {(r["container"]["name"], r["host"]) for r in records}
    assert hosts == {(on_a.name, "local"), (on_b.name, "hostb")}
