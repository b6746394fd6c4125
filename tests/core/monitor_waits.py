"""Bounded waits on the monitor and the ``gtui`` command, for integration tests.

Nothing here fakes anything: these helpers sample a real ``Monitor`` until a
condition holds (or a deadline passes) and run ``python -m gunicorn_tui`` as
a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from docker.models.containers import Container

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target

REPO_ROOT = Path(__file__).resolve().parents[2]


def describe(frame: MonitorFrame) -> str:
    """One line per instance, for assertion messages."""
    lines = [f"docker: {frame.docker.state.value} ({frame.docker.message})"]
    for sample in frame.instances:
        lines.append(
            f"{sample.key} master={sample.master.pid} workers="
            f"{[(w.pid, w.state.value) for w in sample.workers]} "
            f"config workers={sample.config.value('workers')} "
            f"bind={sample.config.value('bind')} warnings={list(sample.warnings)}"
        )
    lines.extend(f"notice: {notice}" for notice in frame.notices)
    return "\n".join(lines)


def sample_until(
    monitor: Monitor,
    condition: Callable[[MonitorFrame], bool],
    timeout_s: float,
    interval_s: float = 0.25,
    what: str = "condition",
) -> MonitorFrame:
    """Sample every ``interval_s`` until ``condition(frame)`` holds.

    Raises AssertionError with the last frame after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        frame = monitor.sample()
        if condition(frame):
            return frame
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s:\n{describe(frame)}")
        time.sleep(interval_s)


def in_container(frame: MonitorFrame, container_id: str) -> list[InstanceSample]:
    """The instances of one container, by master pid."""
    found = [s for s in frame.instances if s.container and s.container.id == container_id]
    return sorted(found, key=lambda sample: sample.master.pid or 0)


def by_master(frame: MonitorFrame, master_pid: int) -> InstanceSample | None:
    """The instance whose master has host pid ``master_pid``."""
    for sample in frame.instances:
        if sample.master.pid == master_pid:
            return sample
    return None


def worker_pids(sample: InstanceSample) -> set[int]:
    """Host pids of an instance's workers."""
    return {worker.pid for worker in sample.workers if worker.pid is not None}


def run_gtui(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gunicorn_tui ARGS`` from this checkout and capture its output."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def ns_pid(host_pid: int) -> int:
    """The pid a process has in its own pid namespace (NSpid), read directly."""
    for line in Path(f"/proc/{host_pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError(f"no NSpid line for pid {host_pid}")


def container_processes(container: Container) -> list[tuple[int, int, str]]:
    """(host pid, host ppid, command) of each process, from ``docker top``."""
    top = container.top()
    titles = list(top["Titles"])
    pid_at, ppid_at, cmd_at = titles.index("PID"), titles.index("PPID"), titles.index("CMD")
    return [(int(row[pid_at]), int(row[ppid_at]), row[cmd_at]) for row in top["Processes"]]


@contextmanager
def open_monitor(
    *targets: str,
    use_docker: bool = True,
    force_api: bool = False,
    probe_versions: bool = False,
    rescan_interval_s: float = 0.5,
) -> Iterator[Monitor]:
    """An opened Monitor on ``targets`` (all servers when none), closed after."""
    monitor = Monitor(
        MonitorOptions(
            targets=tuple(parse_target(text) for text in targets),
            use_docker=use_docker,
            force_api=force_api,
            probe_versions=probe_versions,
            rescan_interval_s=rescan_interval_s,
        )
    )
    try:
        monitor.open()
        yield monitor
    finally:
        monitor.close()
