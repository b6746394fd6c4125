"""The bad inputs of a retune, each against real containers: refused or
recovered with a clear reason, the service never lost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.durability.journal import JournalStore, OutcomeStatus
from gunicorn_tui.control.engine import ActionRefused, ControlEngine
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest, parse_scale
from gunicorn_tui.control.running.progress import ProgressEvent, StepFinished
from tests.control.helpers import (
    SocketForwarder,
    gunicorn_container,
    read_file,
    run_gtui,
    sample_of,
    serves,
    show_config,
    wait_worker_count,
    worker_count,
)
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow

PINNED = RetuneRequest(workers=3, timeout=47)  # -w is on the command line: a re-create


def _engine(state_dir: Path, client: docker.DockerClient) -> ControlEngine:
    return ControlEngine(state_directory=state_dir, docker_client=client)


def _started_at(client: docker.DockerClient, name: str) -> tuple[str, str]:
    container = client.containers.get(name)
    return str(container.id), str(container.attrs["State"]["StartedAt"])


def test_an_unknown_worker_class_is_refused_and_nothing_is_touched(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    before = _started_at(docker_client, name)
    plan = _engine(state_dir, docker_client).plan_retune(
        sample_of(name), RetuneRequest(worker_class="quantum")
    )
    assert not plan.ok and "unknown worker class 'quantum'" in (plan.refusal or "")
    with pytest.raises(ActionRefused, match="unknown worker class"):
        _engine(state_dir, docker_client).execute(plan)
    result = run_gtui("retune", name, "--worker-class", "quantum", "--yes")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gtui retune: error: unknown worker class 'quantum': use one of asgi, eventlet, gevent, "
        "gevent_pywsgi, gevent_wsgi, gthread, sync, tornado, or a dotted path such as "
        "uvicorn_worker.UvicornWorker"
    ]
    assert _started_at(docker_client, name) == before and serves(port)
    assert not (state_dir / "journal").exists() or not any((state_dir / "journal").iterdir())


def test_a_worker_class_the_image_lacks_is_refused_before_anything_happens(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_NO_SETPROCTITLE, "-w", "2"
    )
    name = container.name or ""
    before = _started_at(docker_client, name)
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), RetuneRequest(worker_class="gevent"))
    assert not plan.ok and plan.steps == ()
    assert "gunicorn.workers.ggevent does not import" in (plan.refusal or "")
    assert "gevent" in (plan.refusal or "").split("(", 1)[1]
    assert read_file(container, "/app/gunicorn.conf.py") is None
    assert _started_at(docker_client, name) == before and serves(port)

    # The image that has gevent gets a plan for the same request.
    other, _ = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    assert engine.plan_retune(sample_of(other.name or ""), RetuneRequest(worker_class="gevent")).ok


def test_zero_or_negative_workers_are_refused(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    sample = sample_of(name)
    for request in (RetuneRequest(workers=0), RetuneRequest(workers=-2)):
        plan = engine.plan_retune(sample, request)
        assert not plan.ok and "workers must be at least 1" in (plan.refusal or "")
    for change in ("=0", "-2", "-7"):
        plan = engine.plan_scale(sample, parse_scale(change))
        assert not plan.ok and "at least 1 is needed" in (plan.refusal or ""), change
    result = run_gtui("retune", name, "--workers", "-1", "--yes")
    assert result.returncode == 2 and "workers must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_gtui("scale", name, "=0", "--yes")
    assert result.returncode == 1 and "refused: =0 would leave 0 workers" in result.stdout
    assert worker_count(container) == 2 and serves(port)


def test_a_container_removed_after_planning_is_refused(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, _ = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), PINNED)
    assert plan.strategy is Strategy.RECREATE
    container.remove(force=True)
    with pytest.raises(ActionRefused, match=f"container {name} no longer exists"):
        engine.execute(plan)
    assert docker_client.containers.list(all=True, filters={"name": name}) == []


def test_a_container_removed_during_a_re_create_leaves_the_new_one_serving(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), PINNED)

    def remove_after_create(event: ProgressEvent) -> None:
        if isinstance(event, StepFinished) and event.description.startswith("create the new"):
            docker_client.containers.get(str(container.id)).remove(force=True)

    outcome = engine.execute(plan, on_event=remove_after_create)
    assert outcome.status is OutcomeStatus.OK, outcome.summary()
    assert outcome.error is not None and "no longer exists" in outcome.error
    survivor = docker_client.containers.get(name)
    assert survivor.id == outcome.new_container_id
    assert show_config(survivor)["timeout"] == 47 and serves(port)
    records = engine.audit.read().records
    assert records[-1].outcome == "ok" and "no longer exists" in (records[-1].error or "")


def test_a_taken_temporary_name_is_refused_and_left_alone(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    squatter = container_factory.start(tags.PLAIN, name=f"{name}-gtui-new")
    plan = engine.plan_retune(sample_of(name), PINNED)
    assert not plan.ok
    assert f"a container named {name}-gtui-new already exists ({squatter.short_id})" in (
        plan.refusal or ""
    )
    squatter.reload()
    assert squatter.status == "running"
    assert docker_client.containers.get(name).id == container.id and serves(port)

    # The name taken between planning and running: create fails, nothing else happens.
    squatter.remove(force=True)
    plan = engine.plan_retune(sample_of(name), PINNED)
    assert plan.ok
    container_factory.start(tags.PLAIN, name=f"{name}-gtui-new")
    outcome = engine.execute(plan)
    assert outcome.status is OutcomeStatus.FAILED, outcome.summary()
    assert outcome.error is not None and "is already in use" in outcome.error
    assert docker_client.containers.get(name).id == container.id and serves(port)


def test_a_daemon_that_goes_away_mid_retune_is_recovered_when_it_is_back(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    docker_forwarder: SocketForwarder,
    state_dir: Path,
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    original_id = str(container.id)
    engine = _engine(state_dir, docker_forwarder.client())
    sample = sample_of(name)
    plan = engine.plan_retune(sample, PINNED)
    assert plan.strategy is Strategy.RECREATE
    later = _engine(state_dir, docker_client).plan_scale(sample, parse_scale("+1"))

    def daemon_gone_after_stop(event: ProgressEvent) -> None:
        if isinstance(event, StepFinished) and event.description.startswith("stop the old"):
            docker_forwarder.stop()

    outcome = engine.execute(plan, on_event=daemon_gone_after_stop)
    assert outcome.status is OutcomeStatus.NEEDS_RECOVERY, outcome.summary()
    assert outcome.error is not None and "Docker daemon unreachable" in outcome.error
    (pending,) = JournalStore(state_dir).pending()
    assert pending.data["original_inspect"]["Id"] == original_id
    with pytest.raises(ActionRefused, match="must be settled first: run `gtui recover`"):
        _engine(state_dir, docker_client).execute(later)

    docker_forwarder.start()
    result = run_gtui("recover", env={"DOCKER_HOST": docker_forwarder.url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rolled back" in result.stdout
    assert serves(port) and docker_client.containers.get(name).id == original_id
    assert JournalStore(state_dir).pending() == []
    (archived,) = JournalStore(state_dir).archived()
    assert archived.data["original_inspect"]["Id"] == original_id


def test_a_second_action_while_one_runs_is_refused(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = _engine(state_dir, docker_client)
    second = engine.plan_scale(sample_of(name), parse_scale("+1"))
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn_tui",
            "retune",
            name,
            "--workers",
            "3",
            "--timeout",
            "48",
            "--yes",
        ],
        env={**os.environ, "PYTHONPATH": str(root)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        journal_dir = state_dir / "journal"
        deadline = time.monotonic() + 60
        while not (journal_dir.exists() and any(journal_dir.glob("*.json"))):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first retune never started"
            time.sleep(0.02)
        with pytest.raises(
            ActionRefused, match=f"another action is in progress \\(retune by pid {first.pid}\\b"
        ):
            engine.execute(second)
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert serves(port) and wait_worker_count(docker_client.containers.get(name), 3) == 3
