"""Bad input and bad luck: wrong targets, no Docker, vanishing processes, no permission.

Each case runs the real ``gtui`` command (a subprocess) or a real Monitor
against real processes and containers; errors must be one line on stderr,
with the documented exit code, and never a traceback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
import traceback
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import docker
import psutil
import pytest

from gunicorn_tui.cli.exit_codes import (
    EXIT_DOCKER_UNREACHABLE,
    EXIT_OK,
    EXIT_TARGET_NOT_FOUND,
    EXIT_USAGE,
)
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.output.snapshot_json import snapshot_json
from gunicorn_tui.settings.command_line import default_value
from tests.core.monitor_waits import by_master, open_monitor, run_gtui, sample_until
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.images import tags

NOBODY = 65534


def _one_line_error(stderr: str, prog: str = "gtui snapshot") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith(f"{prog}: error: ")
    return lines[0]


def _unused_pid() -> int:
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid -= 1
    return pid


# --- targets -------------------------------------------------------------------------


def test_unknown_container_target(docker_client: docker.DockerClient) -> None:
    name = f"gtui-test-no-such-container-{os.getpid()}"
    done = run_gtui("snapshot", "--json", name)
    assert done.returncode == EXIT_TARGET_NOT_FOUND
    assert done.stdout == ""
    assert _one_line_error(done.stderr) == f"gtui snapshot: error: no container named {name!r}"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["snapshot", "pid:abc"], "pid:N"),
        (["snapshot", "pid:0"], "pid:N"),
        (["snapshot", "pid:"], "pid:N"),
        (["snapshot", "--interval", "0", "pid:1"], "--interval"),
        (["ls", "--no-docker", "some-container"], "--no-docker"),
        (["snapshot", "--frobnicate"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(args: list[str], needle: str) -> None:
    done = run_gtui(*args)
    assert done.returncode == EXIT_USAGE, done.stderr
    line = _one_line_error(done.stderr, prog=f"gtui {args[0]}")
    assert needle in line


def test_pid_that_does_not_exist() -> None:
    pid = _unused_pid()
    done = run_gtui("snapshot", "--no-docker", f"pid:{pid}")
    assert done.returncode == EXIT_TARGET_NOT_FOUND
    assert _one_line_error(done.stderr) == f"gtui snapshot: error: no process with pid {pid}"


def test_pid_of_a_process_that_is_not_gunicorn() -> None:
    done = run_gtui("snapshot", "--no-docker", f"pid:{os.getpid()}")
    assert done.returncode == EXIT_TARGET_NOT_FOUND
    line = _one_line_error(done.stderr)
    assert line == f"gtui snapshot: error: no Gunicorn server found in pid:{os.getpid()}"


def test_stopped_container(container_factory: ContainerFactory) -> None:
    container = container_factory.start(tags.PLAIN, ["true"])
    assert container.wait(timeout=30)["StatusCode"] == 0
    done = run_gtui("snapshot", container.name or "")
    assert done.returncode == EXIT_TARGET_NOT_FOUND
    assert _one_line_error(done.stderr) == (
        f"gtui snapshot: error: container {container.name!r} is not running (status: exited)"
    )


def test_container_without_gunicorn(container_factory: ContainerFactory) -> None:
    container = container_factory.start(tags.PLAIN)
    done = run_gtui("snapshot", "--json", container.name or "")
    assert done.returncode == EXIT_TARGET_NOT_FOUND
    assert done.stdout == ""
    assert _one_line_error(done.stderr) == (
        f"gtui snapshot: error: no Gunicorn server found in {container.name}"
    )


# --- Docker unreachable at start ---------------------------------------------------


def test_docker_unreachable_at_start_with_a_container_target(tmp_path: Path) -> None:
    # A socket path where nothing listens: the shared daemon is never touched.
    nowhere = f"unix://{tmp_path}/docker.sock"
    started = time.monotonic()
    done = run_gtui("snapshot", "--json", "web", env={"DOCKER_HOST": nowhere})
    assert done.returncode == EXIT_DOCKER_UNREACHABLE
    line = _one_line_error(done.stderr)
    assert line == f"gtui snapshot: error: web: Docker daemon not reachable at {nowhere}"
    assert time.monotonic() - started < 20


def test_docker_unreachable_without_container_targets_still_lists_host_servers(
    tmp_path: Path, local_gunicorn: LocalGunicornFactory
) -> None:
    server = local_gunicorn.start("--workers", "1")
    nowhere = f"unix://{tmp_path}/docker.sock"
    done = run_gtui("ls", "--json", env={"DOCKER_HOST": nowhere})
    assert done.returncode == EXIT_OK, done.stderr
    document = json.loads(done.stdout)
    assert document["docker"]["state"] == "unreachable"
    assert nowhere in document["docker"]["message"]
    assert server.pid in {row["master_pid"] for row in document["instances"]}


# --- processes that vanish while sampled --------------------------------------------


def test_workers_and_master_killed_while_sampling(local_gunicorn: LocalGunicornFactory) -> None:
    server = local_gunicorn.start("--workers", "4")
    master = psutil.Process(server.pid)
    stop = threading.Event()
    killed: list[int] = []

    def kill_workers() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            children = master.children()
            if children:
                victim = rng.choice(children)
                try:
                    victim.kill()
                    killed.append(victim.pid)
                except psutil.NoSuchProcess:
                    pass
            stop.wait(0.05)

    with open_monitor(f"pid:{server.pid}", use_docker=False) as monitor:
        sample_until(monitor, lambda f: by_master(f, server.pid) is not None, timeout_s=10)
        killer = threading.Thread(target=kill_workers, daemon=True)
        killer.start()
        frames = []
        deadline = time.monotonic() + 3
        try:
            while time.monotonic() < deadline:
                frames.append(monitor.sample())
                time.sleep(0.02)
        finally:
            stop.set()
            killer.join(5)
        assert len(killed) > 10
        assert all(by_master(frame, server.pid) is not None for frame in frames)
        assert not [n for frame in frames for n in frame.notices if "failed" in n]
        # Every worker listed was alive when listed, or one just killed.
        for frame in frames:
            sample = by_master(frame, server.pid)
            assert sample is not None
            assert all(w.pid is not None for w in sample.workers)

        # Now the whole server goes at once, between two samples.
        os.killpg(server.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        notices: list[str] = []
        for _ in range(10):
            frame = monitor.sample()
            notices.extend(frame.notices)
            if by_master(frame, server.pid) is None:
                break
            time.sleep(0.1)
        assert by_master(frame, server.pid) is None
        assert any("master exited" in notice for notice in notices), notices
        assert not [n for n in notices if "failed" in n]


# --- permission denied --------------------------------------------------------------


def _sample_as_nobody(master_pid: int, results: Queue[Any]) -> None:
    """Runs in a forked child: drop to nobody, sample twice, report."""
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        monitor = Monitor(
            MonitorOptions(
                targets=(parse_target(f"pid:{master_pid}"),),
                use_docker=False,
                probe_versions=False,
            )
        )
        monitor.open()
        monitor.check_targets()
        frame = monitor.sample()
        # A worker first seen in this sample has no CPU interval yet: on a
        # loaded machine the second worker may still be forking at the first.
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            time.sleep(0.5)
            frame = monitor.sample()
            workers = [w for i in frame.instances for w in i.workers]
            if len(workers) == 2 and all(w.process.cpu_percent is not None for w in workers):
                break
        monitor.close()
        document = snapshot_json(frame.instances, frame.docker, frame.taken_at, frame.notices)
        results.put(("ok", os.getuid(), document))
    except BaseException:
        results.put(("error", os.getuid(), traceback.format_exc()))


def test_fields_we_may_not_read_are_shown_as_unavailable(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    # A root-owned server sampled by a process that dropped to nobody: /proc
    # lets it read stat and status, not fds, environ, smaps or the root link.
    server = local_gunicorn.start("--workers", "2")
    default_value("workers")  # gunicorn.config is imported before the fork
    context = multiprocessing.get_context("fork")
    results: Queue[Any] = context.Queue()
    child = context.Process(target=_sample_as_nobody, args=(server.pid, results))
    child.start()
    try:
        status, uid, payload = results.get(timeout=30)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert (status, uid) == ("ok", NOBODY), payload
    (instance,) = payload["instances"]
    assert instance["master"]["pid"] == server.pid
    assert len(instance["workers"]) == 2
    for worker in instance["workers"]:
        # Readable: /proc/<pid>/stat, statm and status.
        assert worker["cpu_percent"] is not None, worker["unavailable"]
        assert worker["rss_bytes"] > 0
        assert worker["ns_pid"] == worker["pid"]
        # Not readable: smaps_rollup and the fd directory.
        assert worker["uss_bytes"] is None
        assert worker["heartbeat_age_s"] is None
        assert worker["client_connections"] is None
        assert worker["unavailable"]["uss_bytes"] == "permission denied"
        assert worker["unavailable"]["heartbeat_age_s"] == "permission denied"
        assert worker["unavailable"]["client_connections"] == "permission denied"
        assert worker["state"] in ("idle", "unknown")
    assert instance["master"]["unavailable"]["uss_bytes"] == "permission denied"
    # Without the control socket (root's) and argv (titled), config is unknown.
    assert instance["config"]["workers"]["source"] == "unknown"
    assert instance["control_socket"] is None
    assert not [n for n in payload["notices"] if "failed" in n]


# --- half of many containers stop while they are sampled ------------------------------


@pytest.mark.slow
def test_half_of_many_containers_stop_during_samples(container_factory: ContainerFactory) -> None:
    # Issue 16's bad input at a size CI can start (benchmarks/sampling_cost.py
    # runs 100): every container stops with a SIGKILL from another thread
    # while the monitor samples back to back, so stops land inside samples.
    from tests.harness.loopback import free_port

    count = 16
    started = []
    for _ in range(count):
        port = free_port()
        container = container_factory.start(
            tags.GUNICORN_LATEST, ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"]
        )
        started.append((container, port))
    for container, port in started:
        container_factory.wait_http(container, port)
    names = [container.name or "" for container, _ in started]
    doomed = {container.id for container, _ in started[::2]}
    with open_monitor(*names, rescan_interval_s=0.2) as monitor:
        sample_until(monitor, lambda f: len(f.instances) == count, timeout_s=60)

        def stop_half() -> None:
            for container, _ in started[::2]:
                container.kill()

        stopper = threading.Thread(target=stop_half, name="stopper", daemon=True)
        frames = []
        stopper.start()
        deadline = time.monotonic() + 30
        while stopper.is_alive() and time.monotonic() < deadline:
            frames.append(monitor.sample())
        stopper.join(5)
        assert not stopper.is_alive()
        frames.append(sample_until(monitor, lambda f: len(f.instances) == count // 2, timeout_s=30))
    notices = [notice for frame in frames for notice in frame.notices]
    assert not [n for n in notices if "failed" in n], notices
    assert len(frames) >= 2  # samples ran while containers stopped
    for frame in frames:
        assert count // 2 <= len(frame.instances) <= count
        for sample in frame.instances:
            # A listed instance is whole: a master, its workers or none of them.
            assert sample.master.pid is not None
            assert len(sample.workers) <= 2
    survivors = {sample.container.id for sample in frames[-1].instances if sample.container}
    assert survivors == {container.id for container, _ in started} - doomed
