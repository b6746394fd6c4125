"""Sweeps that go wrong on real containers: a config that does not boot is
recorded as failed and the sweep goes on; a ``gtui sweep`` killed with
SIGKILL leaves a journal that ``gtui recover`` settles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.grid import build_grid, check_grid
from gunicorn_tui.sweep.runner import ConfigStatus, SweepSettings, SweepStatus, run_sweep
from tests.control.helpers import (
    run_gtui,
    serves,
    show_config,
    wait_worker_count,
    worker_count,
)
from tests.harness.containers import ContainerFactory
from tests.sweep.sweep_containers import IO_PROFILE, REPO, io_container

pytestmark = pytest.mark.slow

# Imports in the server's Python (so the sweep's upfront checks and
# --check-config accept it) but is no worker class: the master exits when it
# spawns workers with it. A config that fails only at boot, as a broken
# third-party worker would.
BOOTS_BADLY = "gunicorn.app.base.Application"


def test_a_config_that_fails_to_boot_is_recorded_and_the_sweep_goes_on(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, port = io_container(container_factory)
    engine = ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client)
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    try:
        sample = next(s for s in monitor.sample().instances)
        classes = ("sync", BOOTS_BADLY, "gthread")
        modules = engine.facts(sample, ("gunicorn.workers.gthread", "gunicorn.app.base")).modules
        assert check_grid((2,), classes, None, sample.config, modules) == ()
        result = run_sweep(
            monitor.sample,
            EpochTracker(sample.key, warmup_s=2.0),
            engine,
            build_grid((2,), classes, None),
            parse_profile_text(IO_PROFILE, source="io"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            settings=SweepSettings(warmup_s=2.0, measure_s=5.0, min_measured_s=3.0),
        )
    finally:
        monitor.close()
    statuses = [(r.config.label, r.status) for r in result.results]
    assert statuses == [
        ("2 x sync", ConfigStatus.MEASURED),
        (f"2 x {BOOTS_BADLY}", ConfigStatus.FAILED),
        ("2 x gthread", ConfigStatus.MEASURED),
    ], result.results
    failed = result.results[1]
    assert failed.error and failed.summary is None and failed.epoch is None
    assert failed.retune is not None and "rolled back" in failed.retune, failed.retune
    assert result.status is SweepStatus.COMPLETED, result.reason
    assert result.winner in (0, 2)
    assert result.restored and result.config_now == "1 x sync"
    container = docker_client.containers.get(name)
    assert wait_worker_count(container, 1) == 1 and serves(port)
    shown = show_config(container)
    assert "SyncWorker" in shown["worker_class"] and shown["workers"] == 1


def test_sigkill_mid_sweep_then_gtui_recover_restores_the_original_config(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, port = io_container(container_factory)
    profile = tmp_path / "io.toml"
    profile.write_text(IO_PROFILE)
    env = {"GTUI_STATE_DIR": str(tmp_path / "state")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "sweep", name, "--workers", "3",
         "--worker-class", "gthread", "--threads", "4", "--profile", str(profile),
         "--warmup", "2", "--measure", "60", "--yes"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        container = docker_client.containers.get(name)
        # Killed while measuring 3 x gthread/4: nothing of the sweep runs on.
        assert wait_worker_count(container, 3, timeout_s=60.0) == 3
        assert "ThreadWorker" in show_config(container)["worker_class"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert len(list((tmp_path / "state" / "sweeps").glob("*.json"))) == 1
    assert worker_count(container) == 3  # still on the sweep's config

    recovered = run_gtui("recover", env=env)
    assert recovered.returncode == 0, recovered.stderr
    assert "sweep" in recovered.stdout and "restored" in recovered.stdout, recovered.stdout
    assert "1 x sync" in recovered.stdout
    assert wait_worker_count(container, 1) == 1 and serves(port)
    shown = show_config(container)
    assert "SyncWorker" in shown["worker_class"] and shown["threads"] == 1
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))  # archived

    again = run_gtui("recover", env=env)
    assert again.returncode == 0 and "nothing to recover" in again.stdout, again.stdout
