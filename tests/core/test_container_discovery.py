"""Discovery and sampling of Gunicorn in real containers, checked against the engine.

Every figure is compared with an independent reading of the same thing:
``docker top`` and ``/proc/<pid>/status`` for pids, the container's command
for the configuration, ``docker stats`` for memory, ``gunicorn --version``
inside the image for the version.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import psutil
import pytest
from docker.models.containers import Container

from gunicorn_tui.model.instances import ConfigSource, InstanceSample, WorkerState
from gunicorn_tui.monitor.monitor import MonitorFrame
from tests.core.monitor_waits import (
    container_processes,
    in_container,
    ns_pid,
    open_monitor,
    run_gtui,
    sample_until,
    worker_pids,
)
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags


def _gunicorn(image: str, port: int, *args: str) -> list[str]:
    argv = ["-b", f"127.0.0.1:{port}", *args, "app:app"]
    # The shell image's entrypoint runs gunicorn itself and takes its arguments.
    return argv if image == tags.GUNICORN_SHELL else ["gunicorn", *argv]


def _gunicorn_tree(container: Container) -> dict[int, list[int]]:
    """Master host pid -> worker host pids, from ``docker top`` titles."""
    rows = container_processes(container)
    masters = {pid for pid, _, cmd in rows if cmd.startswith("gunicorn: master")}
    return {
        master: sorted(
            pid for pid, ppid, cmd in rows if ppid == master and cmd.startswith("gunicorn: worker")
        )
        for master in masters
    }


def _wait_for_workers(container: Container, count: int, timeout_s: float = 15.0) -> None:
    # Workers boot one after another; the first /health answer comes early.
    deadline = time.monotonic() + timeout_s
    while sum(len(w) for w in _gunicorn_tree(container).values()) < count:
        assert time.monotonic() < deadline, f"{count} workers not up: {_gunicorn_tree(container)}"
        time.sleep(0.2)


def _only_instance(frame_instances: list[InstanceSample]) -> InstanceSample:
    assert len(frame_instances) == 1, [s.key for s in frame_instances]
    return frame_instances[0]


def _docker_stats_memory_bytes(container: Container) -> int:
    """Memory use as ``docker stats --no-stream`` prints it."""
    completed = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container.id or ""],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    used = completed.stdout.split("/")[0].strip()
    match = re.fullmatch(r"([\d.]+)\s*([KMGT]?i?B)", used)
    assert match, completed.stdout
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "kB": 1000, "MB": 1000**2}
    return int(float(match.group(1)) * units[match.group(2)])


def _image_gunicorn_version(container: Container) -> str:
    result = container.exec_run(["gunicorn", "--version"])
    output = result.output.decode() if isinstance(result.output, bytes) else ""
    match = re.search(r"\(version ([\d.]+)\)", output)
    assert result.exit_code == 0 and match, output
    return match.group(1)


# --- the CLI on the latest image ------------------------------------------------


def test_snapshot_json_of_the_latest_image_matches_the_engine(
    container_factory: ContainerFactory,
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST, _gunicorn(tags.GUNICORN_LATEST, port, "-w", "2", "--timeout", "20")
    )
    container_factory.wait_http(container, port)
    _wait_for_workers(container, 2)

    done = run_gtui("snapshot", "--json", "--interval", "0.5", container.name or "")

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    (instance,) = document["instances"]
    container.reload()
    assert instance["source"] == "docker"
    assert instance["container"] == {
        "id": container.id,
        "name": container.name,
        "image": tags.GUNICORN_LATEST,
        "network_mode": container.attrs["HostConfig"]["NetworkMode"],
        "compose": None,
        "watch_only": None,
    }
    assert instance["sampling"] == "procfs"
    assert instance["gunicorn_version"] == _image_gunicorn_version(container)

    # Pids: the master is the container's main process (PID 1 inside it).
    (master_pid, expected_workers), *_ = _gunicorn_tree(container).items()
    master = instance["master"]
    assert master["pid"] == master_pid == container.attrs["State"]["Pid"]
    assert master["ns_pid"] == 1
    workers = instance["workers"]
    assert sorted(worker["pid"] for worker in workers) == expected_workers
    for worker in workers:
        assert worker["ns_pid"] == ns_pid(worker["pid"])
        assert worker["ns_pid"] != worker["pid"]

    # Configuration: what the command line says, read back from the control socket.
    config = instance["config"]
    assert config["workers"] == {
        "value": 2,
        "source": "control socket",
        "declared_in": "command line",
    }
    assert config["bind"]["value"] == f"127.0.0.1:{port}"
    assert config["bind"]["declared_in"] == "command line"
    assert config["timeout"]["value"] == 20
    assert config["worker_class"]["value"] == "sync"
    assert config["threads"]["value"] == 1
    assert instance["workers_target"] == 2
    assert instance["control_socket"] == "/root/.gunicorn/gunicorn.ctl"

    # Figures: idle workers, sane heartbeats and memory.
    uptime_s = time.time() - psutil.Process(master_pid).create_time()
    for process in [master, *workers]:
        assert process["cpu_percent"] is not None and process["cpu_percent"] < 25
        assert 0 < process["uss_bytes"] <= process["rss_bytes"]
        # Read at the first of the two samples (0.5 s apart), not re-read yet.
        assert 0 <= process["uss_age_s"] <= 5
        assert 0 <= process["age_s"] <= uptime_s + 1
    for worker in workers:
        # A sync worker touches its heartbeat at least every timeout/2 when idle.
        assert 0 <= worker["heartbeat_age_s"] <= 20 / 2 + 1
        assert worker["state"] == "idle"
        assert worker["client_connections"] == 0
        assert worker["unavailable"] == {}
    totals = instance["totals"]
    assert totals["from_cgroup"] is True
    assert totals["cpu_percent"] is not None and totals["cpu_percent"] < 50
    # Master RSS plus worker USS stays within what the whole cgroup uses.
    assert master["rss_bytes"] <= totals["memory_bytes"]


def test_cgroup_memory_matches_docker_stats(container_factory: ContainerFactory) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST, _gunicorn(tags.GUNICORN_LATEST, port, "-w", "3")
    )
    container_factory.wait_http(container, port)
    _wait_for_workers(container, 3)
    with open_monitor(container.name or "") as monitor:
        frame = sample_until(
            monitor, lambda f: len(in_container(f, container.id or "")) == 1, timeout_s=10
        )
        before = _only_instance(in_container(frame, container.id or "")).totals.memory_bytes
        reference = _docker_stats_memory_bytes(container)
        after = _only_instance(in_container(monitor.sample(), container.id or "")).totals
    assert before is not None and after.memory_bytes is not None
    tolerance = max(4 * 1024**2, reference // 10)
    for ours in (before, after.memory_bytes):
        assert abs(ours - reference) <= tolerance, (ours, reference)
    assert after.cpu_percent is not None


# --- titles, wrappers and where the master sits -----------------------------------


def test_untitled_master_and_workers_from_the_command_line(
    container_factory: ContainerFactory,
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_NO_SETPROCTITLE,
        _gunicorn(tags.GUNICORN_NO_SETPROCTITLE, port, "-w", "3", "--timeout", "25"),
    )
    container_factory.wait_http(container, port)
    container.reload()
    main_pid = container.attrs["State"]["Pid"]
    with open_monitor(container.name or "") as monitor:
        frame = sample_until(
            monitor,
            lambda f: any(len(s.workers) == 3 for s in in_container(f, container.id or "")),
            timeout_s=15,
            what="3 workers",
        )
    instance = _only_instance(in_container(frame, container.id or ""))
    children = {pid for pid, ppid, _ in container_processes(container) if ppid == main_pid}
    assert instance.master.pid == main_pid
    assert instance.master.ns_pid == 1
    assert worker_pids(instance) == children
    assert instance.name == "app:app"
    assert instance.config.value("workers") == 3
    assert instance.config.get("workers").declared_in is ConfigSource.COMMAND_LINE
    assert instance.config.value("timeout") == 25
    assert instance.config.value("bind") == f"127.0.0.1:{port}"
    assert not [w for w in instance.config.warnings if "hidden" in w]


@pytest.mark.parametrize(
    ("image", "entrypoint", "prefix", "declared_in"),
    [
        (tags.GUNICORN_SHELL, None, [], ConfigSource.UNKNOWN),
        (
            tags.GUNICORN_LATEST,
            ["sh", "-c", 'gunicorn "$@"; exit $?', "sh"],
            [],
            ConfigSource.COMMAND_LINE,
        ),
        (tags.GUNICORN_LATEST, None, ["tini", "--"], ConfigSource.COMMAND_LINE),
    ],
    ids=["shell-entrypoint", "sh-c", "tini"],
)
def test_master_that_is_not_pid_1(
    container_factory: ContainerFactory,
    image: str,
    entrypoint: list[str] | None,
    prefix: list[str],
    declared_in: ConfigSource,
) -> None:
    port = free_port()
    command = _gunicorn(image, port, "-w", "2")
    if entrypoint is not None:
        command = command[1:]  # "$@" of the sh -c script starts after "gunicorn"
    container = container_factory.start(image, [*prefix, *command], entrypoint=entrypoint)
    container_factory.wait_http(container, port)
    _wait_for_workers(container, 2)
    ((master_pid, expected_workers),) = _gunicorn_tree(container).items()

    def found_with_control_socket(f: MonitorFrame) -> bool:
        # The socket opens after the first workers; gtui looks again soon.
        found = in_container(f, container.id or "")
        return len(found) == 1 and found[0].control_socket is not None

    with open_monitor(container.name or "") as monitor:
        frame = sample_until(monitor, found_with_control_socket, timeout_s=10)
    instance = _only_instance(in_container(frame, container.id or ""))
    assert instance.master.pid == master_pid
    assert instance.master.ns_pid == ns_pid(master_pid) != 1
    assert sorted(worker_pids(instance)) == expected_workers
    assert instance.config.value("workers") == 2
    assert instance.config.value("bind") == f"127.0.0.1:{port}"
    workers = instance.config.get("workers")
    # The shell entrypoint's script is not read: where -w was given is unknown.
    # sh -c 'gunicorn "$@"' and tini show the server's words.
    assert workers.declared_in is declared_in
    assert workers.source is ConfigSource.CONTROL_SOCKET


# --- several masters in one container ---------------------------------------------


def test_two_masters_in_one_container_each_with_its_own_config(
    container_factory: ContainerFactory,
) -> None:
    # Same image, same app, same name and the same default control socket
    # path: only the ports and worker counts differ.
    first_port, second_port = free_port(), free_port()
    script = (
        f"gunicorn -b 127.0.0.1:{first_port} -w 2 app:app & "
        f"gunicorn -b 127.0.0.1:{second_port} -w 1 app:app; wait"
    )
    container = container_factory.start(tags.GUNICORN_LATEST, ["sh", "-c", script])
    container_factory.wait_http(container, first_port)
    container_factory.wait_http(container, second_port)
    _wait_for_workers(container, 3)
    tree = _gunicorn_tree(container)
    by_count = {len(workers): master for master, workers in tree.items()}
    expected = {
        by_count[2]: (2, f"127.0.0.1:{first_port}"),
        by_count[1]: (1, f"127.0.0.1:{second_port}"),
    }

    def check(frame_instances: list[InstanceSample]) -> None:
        assert {s.master.pid for s in frame_instances} == set(expected)
        for sample in frame_instances:
            workers, bind = expected[sample.master.pid or 0]
            assert sample.config.value("workers") == workers, sample.key
            assert sample.config.value("bind") == bind, sample.key
            assert sample.workers_target in (None, workers), sample.key

    with open_monitor(container.name or "") as monitor:
        frame = sample_until(
            monitor,
            lambda f: (
                [s.control_socket is not None for s in in_container(f, container.id or "")]
                in ([True, False], [False, True])
            ),
            timeout_s=10,
            what="one master reached through the control socket they share",
        )
        instances = in_container(frame, container.id or "")
        check(instances)
        for sample in instances:
            assert sorted(worker_pids(sample)) == tree[sample.master.pid or 0]
        # Each master re-creates its control socket around every fork, at the
        # path they share: make the other master fork, so the path passes to
        # it, and check that no master is shown the other's figures.
        (other,) = [s for s in instances if s.control_socket is None]
        os.kill(tree[other.master.pid or 0][0], signal.SIGKILL)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            check(in_container(monitor.sample(), container.id or ""))
            time.sleep(0.2)


# --- USR2 re-exec -------------------------------------------------------------------


def _reexec_warning(old_master: int) -> str:
    return f"new master of a USR2 re-exec (old master pid {old_master})"


@pytest.mark.parametrize(
    "image", [tags.GUNICORN_LATEST, tags.GUNICORN_NO_SETPROCTITLE], ids=["titled", "untitled"]
)
def test_usr2_reexec_pair_then_the_old_master_goes(
    container_factory: ContainerFactory, image: str
) -> None:
    # USR2 is unusable on a PID 1 master; and an entrypoint that waits for
    # the master it started (the shell image's) ends the container when the
    # old master goes. So: a shell that outlives both masters.
    port = free_port()
    script = f"gunicorn -b 127.0.0.1:{port} -w 2 app:app; sleep 600"
    container = container_factory.start(image, ["sh", "-c", script])
    container_factory.wait_http(container, port)
    cid = container.id or ""

    def masters(frame_instances: list[InstanceSample]) -> set[int]:
        return {s.master.pid for s in frame_instances if s.master.pid is not None}

    with open_monitor(container.name or "") as monitor:
        frame = sample_until(
            monitor,
            lambda f: [len(s.workers) for s in in_container(f, cid)] == [2],
            timeout_s=15,
        )
        (old,) = in_container(frame, cid)
        old_pid = old.master.pid or 0
        assert old.master.ns_pid != 1
        os.kill(old_pid, signal.SIGUSR2)

        # Sample fast while the new master boots: at no moment may it be
        # counted as a worker of the old one.
        notices: list[str] = []
        deadline = time.monotonic() + 15
        while True:
            frame = monitor.sample()
            notices.extend(frame.notices)
            instances = in_container(frame, cid)
            for sample in instances:
                assert not worker_pids(sample) & masters(instances), describe_workers(instances)
            if len(instances) == 2 and all(len(s.workers) == 2 for s in instances):
                break
            assert time.monotonic() < deadline, describe_workers(instances)
            time.sleep(0.05)
        (new,) = [s for s in instances if s.master.pid != old_pid]
        new_pid = new.master.pid or 0
        assert _parent_pid(new_pid) == old_pid
        assert _reexec_warning(old_pid) in new.warnings
        assert not [w for w in by_pid(instances, old_pid).warnings if "re-exec" in w]
        assert not worker_pids(new) & worker_pids(by_pid(instances, old_pid))
        assert new.config.value("bind") == f"127.0.0.1:{port}"

        os.kill(old_pid, signal.SIGTERM)

        def old_master_gone(frame: MonitorFrame) -> bool:
            notices.extend(frame.notices)
            return masters(in_container(frame, cid)) == {new_pid}

        sample_until(monitor, old_master_gone, timeout_s=20, what="the old master gone")
        assert any("master exited" in notice for notice in notices), notices
        # Once the old master is gone the new one is a master like any other.
        frame = sample_until(
            monitor,
            lambda f: not [w for w in in_container(f, cid)[0].warnings if "re-exec" in w],
            timeout_s=10,
            what="the re-exec note dropped",
        )
        (survivor,) = in_container(frame, cid)
        assert len(survivor.workers) == 2


def describe_workers(instances: list[InstanceSample]) -> str:
    return "; ".join(f"{s.master.pid}: {sorted(worker_pids(s))}" for s in instances)


def by_pid(instances: list[InstanceSample], master_pid: int) -> InstanceSample:
    (found,) = [s for s in instances if s.master.pid == master_pid]
    return found


def _parent_pid(pid: int) -> int:
    return psutil.Process(pid).ppid()


# --- worker classes and Gunicorn 20 ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "worker_class", "threads"),
    [
        (["-k", "gthread", "--threads", "4", "-w", "2"], "gthread", 4),
        (["-k", "gevent", "--worker-connections", "50", "-w", "2"], "gevent", 1),
    ],
    ids=["gthread", "gevent"],
)
def test_worker_classes(
    container_factory: ContainerFactory, args: list[str], worker_class: str, threads: int
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST, _gunicorn(tags.GUNICORN_LATEST, port, *args)
    )
    container_factory.wait_http(container, port, "/io?ms=5")
    _wait_for_workers(container, 2)
    ((master_pid, expected_workers),) = _gunicorn_tree(container).items()
    cid = container.id or ""
    with open_monitor(container.name or "") as monitor:
        frame = sample_until(
            monitor,
            # Past the boot (importing gevent costs CPU a busy machine
            # spreads over seconds): an idle worker is then idle.
            lambda f: any(
                s.workers
                and all(
                    w.process.cpu_percent is not None and (w.process.age_s or 0) > 4
                    for w in s.workers
                )
                for s in in_container(f, cid)
            ),
            timeout_s=15,
        )
    instance = _only_instance(in_container(frame, cid))
    assert instance.master.pid == master_pid
    assert sorted(worker_pids(instance)) == expected_workers
    assert instance.config.worker_class == worker_class
    assert instance.config.value("threads") == threads
    assert instance.config.value("workers") == 2
    if worker_class == "gevent":
        assert instance.config.value("worker_connections") == 50
    for worker in instance.workers:
        # Loop-based workers touch their heartbeat about once a second.
        assert worker.heartbeat_age_s is not None and worker.heartbeat_age_s < 2.5
        assert worker.state is WorkerState.IDLE
        assert worker.process.cpu_percent is not None and worker.process.cpu_percent < 25
        assert worker.process.rss_bytes and worker.process.uss_bytes
        assert worker.process.uss_bytes <= worker.process.rss_bytes


def test_gunicorn_20_without_control_socket(container_factory: ContainerFactory) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_20, _gunicorn(tags.GUNICORN_20, port, "-w", "2", "--timeout", "40")
    )
    container_factory.wait_http(container, port)
    _wait_for_workers(container, 2)
    ((master_pid, expected_workers),) = _gunicorn_tree(container).items()

    done = run_gtui("snapshot", "--json", "--interval", "0.3", container.name or "")

    assert done.returncode == 0, done.stderr
    (instance,) = json.loads(done.stdout)["instances"]
    assert instance["gunicorn_version"] == "20.1.0" == _image_gunicorn_version(container)
    assert instance["master"]["pid"] == master_pid
    assert sorted(w["pid"] for w in instance["workers"]) == expected_workers
    assert instance["control_socket"] is None
    assert instance["workers_target"] is None
    # setproctitle hid the master's words; the container's command shows them.
    for name, value in (("workers", 2), ("timeout", 40), ("bind", f"127.0.0.1:{port}")):
        assert instance["config"][name] == {
            "value": value,
            "source": "command line",
            "declared_in": "command line",
        }
    assert any("read from gunicorn -b" in warning for warning in instance["warnings"])
    for worker in instance["workers"]:
        # Gunicorn 20 toggles the heartbeat file's mode; its ctime is the beat.
        assert 0 <= worker["heartbeat_age_s"] <= 40 / 2 + 1
        assert worker["state"] == "idle"
