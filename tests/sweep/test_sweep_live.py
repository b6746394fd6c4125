"""Sweeps against real containers: the ranking's truth, bad values refused
before anything starts, and Ctrl-C restoring the original config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from gunicorn_tui.compare.comparison import Significance
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.guided_ab import AbSettings, AbStatus, run_guided_ab
from gunicorn_tui.compare.interleave import InterleaveSettings, InterleaveStatus
from gunicorn_tui.compare.verdict import Verdict
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.grid import build_grid
from gunicorn_tui.sweep.report import sweep_json, winner_line
from gunicorn_tui.sweep.runner import ConfigStatus, SweepSettings, SweepStatus, run_sweep
from tests.control.helpers import gunicorn_container, run_gtui, wait_worker_count, worker_count
from tests.harness.containers import ContainerFactory
from tests.images import tags
from tests.sweep.sweep_containers import ACCESS, IO_PROFILE, REPO, io_container

pytestmark = pytest.mark.slow


def test_a_sweep_over_1_2_4_sync_workers_on_io_ranks_4_first_and_restores(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, port = io_container(container_factory)
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    try:
        sample = next(s for s in monitor.sample().instances)
        result = run_sweep(
            monitor.sample,
            EpochTracker(sample.key, warmup_s=3.0),
            ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client),
            build_grid((1, 2, 4), ("sync",), None),
            parse_profile_text(IO_PROFILE, source="io"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            settings=SweepSettings(warmup_s=3.0, measure_s=15.0),
        )
    finally:
        monitor.close()
    labels = [r.config.label for r in result.results]
    assert result.status is SweepStatus.COMPLETED, result.reason
    assert [r.status for r in result.results] == [ConfigStatus.MEASURED] * 3, result.results
    assert result.winner is not None and labels[result.winner] == "4 x sync", labels
    assert result.runner_up is not None and labels[result.runner_up] == "2 x sync"
    assert result.winner_significance is Significance.SIGNIFICANT
    assert (result.winner_margin_percent or 0) > 0
    assert result.restored and result.config_now == "1 x sync"
    assert wait_worker_count(docker_client.containers.get(name), 1) == 1
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))  # archived


def test_keep_winner_ends_the_sweep_on_the_winning_config(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # 3 sync workers serve the I/O-bound endpoint at about 3x the rate of 1,
    # so the winner is known; with keep_winner the service stays on it.
    name, port = io_container(container_factory)
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    try:
        sample = next(s for s in monitor.sample().instances)
        result = run_sweep(
            monitor.sample,
            EpochTracker(sample.key, warmup_s=3.0),
            ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client),
            build_grid((1, 3), ("sync",), None),
            parse_profile_text(IO_PROFILE, source="io"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            settings=SweepSettings(warmup_s=3.0, measure_s=10.0, keep_winner=True),
        )
    finally:
        monitor.close()
    labels = [r.config.label for r in result.results]
    assert result.status is SweepStatus.COMPLETED, result.reason
    assert result.winner is not None and labels[result.winner] == "3 x sync", labels
    assert result.config_now == "3 x sync" and not result.restored
    assert wait_worker_count(docker_client.containers.get(name), 3) == 3


def test_bad_sweep_values_are_refused_before_anything_starts(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, _port = io_container(container_factory, tags.GUNICORN_NO_SETPROCTITLE)
    started = docker_client.containers.get(name).attrs["State"]["StartedAt"]
    profile = tmp_path / "io.toml"
    profile.write_text(IO_PROFILE)
    env = {"GTUI_STATE_DIR": str(tmp_path / "state")}
    cases = [
        (("--workers", "0,2"), 2, "--workers: 0 is not a worker count"),
        (("--workers", "2", "--worker-class", "quantum"), 2, "unknown worker class 'quantum'"),
        (("--workers", "2", "--worker-class", "sync,gevent"), 2,
         "gevent cannot run here: gunicorn.workers.ggevent does not import"),
        (("--workers", "2", "--read-only"), 1, "read-only session"),
    ]  # fmt: skip
    for extra, code, message in cases:
        result = run_gtui("sweep", name, "--profile", str(profile), "--yes", *extra, env=env)
        assert result.returncode == code, (extra, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert docker_client.containers.get(name).attrs["State"]["StartedAt"] == started
    assert worker_count(docker_client.containers.get(name)) == 1
    assert not (tmp_path / "state" / "sweeps").exists()


def test_ctrl_c_during_a_sweep_restores_the_original_config(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, _port = io_container(container_factory)
    profile = tmp_path / "io.toml"
    profile.write_text(IO_PROFILE)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "sweep", name, "--workers", "3,2",
         "--profile", str(profile), "--warmup", "2", "--measure", "30", "--yes"],
        env={**os.environ, "PYTHONPATH": str(REPO), "GTUI_STATE_DIR": str(tmp_path / "state")},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        container = docker_client.containers.get(name)
        # Wait until the first config (3 workers) is applied and measured.
        assert wait_worker_count(container, 3, timeout_s=60.0) == 3
        time.sleep(3.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "restoring the original config" in stderr
    assert "now: 1 x sync" in stdout, stdout
    assert wait_worker_count(docker_client.containers.get(name), 1) == 1
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))


# The known effect the verdict must find: 1 -> 2 sync workers doubles a
# closed loop of 4 clients on a 50 ms sleep (20 -> 40 req/s) however busy
# the machine's cores are. A CPU-bound loop's effect is whatever CPU a
# shared 2-core box leaves (CI saw +15% to +98% between runs) and belongs
# to the benchmark (benchmarks/verdict_truth.py), not to a pass/fail test.
WAIT_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/io?ms=50"\n'
)


def test_an_interleaved_sweep_of_1_and_2_workers_on_a_sleep_bound_loop_is_conclusive(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    name, port = io_container(container_factory)
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    try:
        sample = next(s for s in monitor.sample().instances)
        result = run_sweep(
            monitor.sample,
            EpochTracker(sample.key, warmup_s=3.0),
            ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client),
            build_grid((1, 2), ("sync",), None),
            parse_profile_text(WAIT_PROFILE, source="sleep"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            # The defaults of `gtui sweep` for two configs but the cap: at 60 s
            # a shared 2-core CI box left 1 -> 2 workers inconclusive (+59%
            # [-6%, +168%]); the run still stops as soon as it is conclusive.
            settings=SweepSettings(interleave=InterleaveSettings(cap_s=120.0)),
        )
    finally:
        monitor.close()
    labels = [r.config.label for r in result.results]
    assert result.status is SweepStatus.COMPLETED, result.reason
    assert result.verdict is not None and result.verdict.status is InterleaveStatus.CONCLUSIVE, (
        result.verdict and [e.text() for e in result.verdict.final.effects]
        if result.verdict and result.verdict.final else result
    )  # fmt: skip
    assert result.winner is not None and labels[result.winner] == "2 x sync", labels
    effect = result.winner_effect
    assert effect is not None and effect.verdict is Verdict.SIGNIFICANT and (effect.low or 0) > 0
    assert result.winner_significance is Significance.SIGNIFICANT
    assert "[" in winner_line(result) and "conclusive after" in winner_line(result)
    assert sweep_json(result)["verdict"]["status"] == "conclusive"
    # Each config against the baseline (the original, 1 x sync), from the same rounds.
    versus = sweep_json(result)["versus_baseline"]
    assert [(v["label"], v["baseline_label"]) for v in versus] == [("2 x sync", "1 x sync")]
    assert versus[0]["effect"]["low"] > 0, versus
    assert result.restored and result.config_now == "1 x sync"
    assert wait_worker_count(docker_client.containers.get(name), 1) == 1


def test_a_change_that_needs_a_re_create_falls_back_to_one_switch_and_says_so(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # --timeout on the command line: no HUP can change it, only a re-create.
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "--timeout",
                                         "30", *ACCESS)  # fmt: skip
    name = container.name or ""
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    try:
        sample = next(s for s in monitor.sample().instances)
        result = run_guided_ab(
            monitor.sample,
            EpochTracker(sample.key, warmup_s=2.0),
            ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client),
            RetuneRequest(timeout=31),
            parse_profile_text(IO_PROFILE, source="io"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            settings=AbSettings(
                measure_s=10.0, warmup_s=2.0, load_warmup_s=1.0, min_measured_s=6.0
            ),
        )
    finally:
        monitor.close()
    assert result.status is AbStatus.COMPARED, (result.reason, result.plan_lines)
    assert result.verdict is None and result.comparison is not None
    notes = " ".join(result.comparison.notes)
    assert "one switch, not interleaved" in notes and "re-create" in notes, notes
