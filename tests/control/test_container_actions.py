"""Each action and each strategy against real Gunicorn in real containers."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.durability.journal import JournalStore, OutcomeStatus
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.managed_config import MARKER
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest, parse_scale
from tests.control.helpers import (
    gunicorn_container,
    read_file,
    sample_of,
    serves,
    show_config,
    wait_worker_count,
    worker_count,
)
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow


def _engine(state_dir: Path, client: docker.DockerClient) -> ControlEngine:
    return ControlEngine(state_directory=state_dir, docker_client=client)


def test_scale_up_and_down_through_the_control_socket(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_scale(
        sample_of(container.name or "", control_socket=True), parse_scale("+2")
    )
    assert plan.strategy is Strategy.CONTROL_SOCKET, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    assert worker_count(container) == 4
    assert outcome.served_after_s is not None and outcome.disruption is not None
    assert outcome.disruption.failed_probes == 0

    outcome = engine.execute(
        engine.plan_scale(sample_of(container.name or "", workers=4), parse_scale("=1"))
    )
    assert outcome.ok, outcome.summary()
    assert wait_worker_count(container, 1) == 1
    assert serves(port)


def test_scale_with_signals_where_there_is_no_control_socket(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_20, "-w", "1")
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_scale(sample_of(container.name or ""), parse_scale("+2"))
    assert plan.strategy is Strategy.SIGNALS
    assert plan.steps[0].command.startswith("kill -TTIN ")
    assert engine.execute(plan).ok
    assert worker_count(container) == 3
    outcome = engine.execute(
        engine.plan_scale(sample_of(container.name or "", workers=3), parse_scale("-1"))
    )
    assert outcome.ok, outcome.summary()
    assert wait_worker_count(container, 2) == 2 and serves(port)


def test_reload_replaces_every_worker(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, _ = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    engine = _engine(state_dir, docker_client)
    sample = sample_of(container.name or "", workers=2)
    before = {worker.pid for worker in sample.workers}
    outcome = engine.execute(engine.plan_reload(sample))
    assert outcome.ok, outcome.summary()
    after = {worker.pid for worker in sample_of(container.name or "", workers=2).workers}
    assert len(after) == 2 and not before & after
    assert outcome.disruption is not None and outcome.disruption.failed_probes == 0


@pytest.mark.parametrize("image", [tags.GUNICORN_LATEST, tags.GUNICORN_20])
def test_kill_one_worker(
    image: str,
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
) -> None:
    container, _ = gunicorn_container(container_factory, image, "-w", "2")
    engine = _engine(state_dir, docker_client)
    sample = sample_of(
        container.name or "", workers=2, control_socket=image == tags.GUNICORN_LATEST
    )
    victim = sample.workers[0].pid
    assert victim is not None
    plan = engine.plan_kill_worker(sample, victim)
    expected = Strategy.CONTROL_SOCKET if image == tags.GUNICORN_LATEST else Strategy.SIGNALS
    assert plan.strategy is expected
    assert engine.execute(plan).ok
    after = {worker.pid for worker in sample_of(container.name or "", workers=2).workers}
    assert victim not in after and len(after) == 2


def test_retune_in_place_with_a_checked_config_file_then_revert(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    engine = _engine(state_dir, docker_client)
    request = RetuneRequest(worker_class="gthread", threads=4, timeout=45)
    plan = engine.plan_retune(sample_of(container.name or ""), request)
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    container.reload()
    assert container.attrs["State"]["Running"]  # the same container, never restarted
    shown = show_config(container)
    assert "ThreadWorker" in shown["worker_class"]
    assert (shown["threads"], shown["timeout"], shown["workers"]) == (4, 45, 2)
    written = read_file(container, "/app/gunicorn.conf.py")
    assert written is not None and written.startswith(MARKER)
    assert outcome.disruption is not None and outcome.disruption.failed_probes == 0
    assert outcome.served_after_s is not None

    revert = engine.plan_revert(sample_of(container.name or ""))
    assert revert.strategy is Strategy.HUP_WITH_CONFIG, revert.describe()
    assert engine.execute(revert).ok
    shown = show_config(container)
    assert "SyncWorker" in shown["worker_class"] and shown["timeout"] == 30
    assert read_file(container, "/app/gunicorn.conf.py") is None
    assert serves(port)
    actions = [(r.action, r.outcome) for r in engine.audit.read().records]
    assert actions == [("retune", "ok"), ("revert", "ok")]


def test_retune_in_place_on_gunicorn_20(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_20)
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(container.name or ""), RetuneRequest(workers=3, timeout=40))
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    assert engine.execute(plan).ok
    assert worker_count(container) == 3
    written = read_file(container, "/app/gunicorn.conf.py")
    assert written is not None and "timeout = 40" in written
    assert serves(port)


def test_retune_re_creates_when_a_setting_is_pinned_then_reverts(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    original_id = str(container.id)
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), RetuneRequest(workers=3, timeout=50))
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    new = docker_client.containers.get(name)
    assert new.id != original_id and new.id == outcome.new_container_id
    assert new.attrs["Config"]["Cmd"] == [
        "gunicorn",
        "-w",
        "3",
        "-b",
        f"127.0.0.1:{port}",
        "app:app",
    ]
    assert "GUNICORN_CMD_ARGS=--timeout 50" in new.attrs["Config"]["Env"]
    assert (show_config(new)["workers"], show_config(new)["timeout"]) == (3, 50)
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(original_id)
    assert outcome.served_after_s is not None and outcome.disruption is not None
    (archived,) = JournalStore(state_dir).archived()
    assert archived.data["original_inspect"]["Id"] == original_id

    outcome = engine.execute(engine.plan_revert(sample_of(name)))
    assert outcome.ok, outcome.summary()
    reverted = docker_client.containers.get(name)
    assert reverted.attrs["Config"]["Cmd"] == [
        "gunicorn",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "app:app",
    ]
    assert not any(e.startswith("GUNICORN_CMD_ARGS") for e in reverted.attrs["Config"]["Env"])
    # A re-created container answers before its last worker has booted.
    assert serves(port) and wait_worker_count(reverted, 2) == 2


def test_re_create_through_an_entrypoint_script(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    # The shell image's master is not PID 1 and its arguments come from Cmd.
    from tests.harness.loopback import free_port

    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_SHELL, ["-w", "2", "--bind", f"127.0.0.1:{port}", "app:app"]
    )
    container_factory.wait_http(container, port)
    engine = _engine(state_dir, docker_client)
    sample = sample_of(container.name or "", workers=2)
    assert sample.master.ns_pid != 1
    plan = engine.plan_retune(sample, RetuneRequest(workers=3, timeout=20))
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    new = docker_client.containers.get(container.name or "")
    assert new.attrs["Config"]["Cmd"] == ["-w", "3", "--bind", f"127.0.0.1:{port}", "app:app"]
    assert new.attrs["Config"]["Entrypoint"] == container.attrs["Config"]["Entrypoint"]
    assert wait_worker_count(new, 3) == 3 and serves(port)


def test_a_worker_class_that_breaks_the_master_is_rolled_back(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    # The class imports (so the probe and --check-config pass) but is no worker:
    # the master dies when it spawns workers. In place, then by re-create.
    broken = "gunicorn.app.base.Application"
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), RetuneRequest(worker_class=broken))
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.status is OutcomeStatus.ROLLED_BACK, outcome.summary()
    assert (
        serves(port)
        and read_file(docker_client.containers.get(name), "/app/gunicorn.conf.py") is None
    )

    original_id = docker_client.containers.get(name).id
    plan = engine.plan_retune(sample_of(name), RetuneRequest(worker_class=broken, workers=3))
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.status is OutcomeStatus.ROLLED_BACK, outcome.summary()
    assert outcome.error is not None and "exited" in outcome.error
    assert outcome.new_container_logs is not None and "Application" in outcome.new_container_logs
    assert docker_client.containers.get(name).id == original_id
    assert serves(port) and wait_worker_count(docker_client.containers.get(name), 2) == 2
    leftovers = docker_client.containers.list(all=True, filters={"name": f"{name}-gtui"})
    assert leftovers == []


def test_actions_through_the_docker_api_only(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    # As with a remote daemon: no /proc, so docker exec, kill and the archive API.
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_scale(sample_of(name, force_api=True), parse_scale("+1"))
    assert plan.strategy is Strategy.CONTROL_SOCKET and plan.target.api_mode
    assert plan.steps[0].command.startswith("docker exec ")
    assert engine.execute(plan).ok
    assert worker_count(container) == 3

    plan = engine.plan_retune(sample_of(name, force_api=True), RetuneRequest(timeout=33))
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    assert plan.steps[-2].command.startswith("docker kill --signal HUP")
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    assert show_config(container)["timeout"] == 33 and serves(port)
