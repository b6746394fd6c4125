"""Before a re-create: what it would lose, who depends on the container, who owns it.

Each test pins a setting on the command line (``-w``) and asks for another
one too, so the only way is a re-create; the container is left untouched
whenever the plan refuses.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import Consent, RetuneRequest
from tests.control.helpers import gunicorn_container, run_gtui, sample_of, serves, worker_count
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow

CHANGE = RetuneRequest(workers=3, timeout=45)


def _engine(state_dir: Path, client: docker.DockerClient) -> ControlEngine:
    return ControlEngine(state_directory=state_dir, docker_client=client)


def test_changes_in_the_writable_layer_are_shown_and_need_their_own_consent(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    container.exec_run(["sh", "-c", "mkdir -p /srv/uploads && echo x > /srv/uploads/a.jpg"])

    # --yes confirms the plan; it does not agree to lose files.
    result = run_gtui(
        "retune", name, "-w", "3", "--timeout", "45", "--yes",
        env={"GTUI_STATE_DIR": str(state_dir)},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "docker diff: A /srv/uploads/a.jpg" in result.stdout
    assert "--discard-changes" in result.stdout
    # What the server rebuilds (bytecode, its control socket) is not listed.
    assert "__pycache__" not in result.stdout and "gunicorn.ctl" not in result.stdout
    assert docker_client.containers.get(name).id == container.id and worker_count(container) == 2

    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), CHANGE, Consent(discard_changes=True))
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    discarded = [note for note in plan.notes if "--discard-changes" in note]
    assert discarded and "A /srv/uploads/a.jpg" in discarded[0], plan.notes

    # Something new written after the consent: the old container is not stopped.
    container.exec_run(["sh", "-c", "echo y > /srv/uploads/b.jpg"])
    outcome = engine.execute(plan)
    assert not outcome.ok
    assert outcome.error is not None and "A /srv/uploads/b.jpg" in outcome.error
    assert docker_client.containers.get(name).id == container.id and serves(port)
    assert not [
        c.name
        for c in docker_client.containers.list(all=True)
        if (c.name or "").startswith(f"{name}-gtui-")
    ]


def test_a_container_others_depend_on_is_not_re_created(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_LATEST, "-w", "2", volumes=["/data"]
    )
    name = container.name or ""
    # A sidecar that mounts its volumes (created, never started).
    sidecar = docker_client.containers.create(
        tags.PLAIN, volumes_from=[name], labels=container_factory.labels(), network_mode="none"
    )
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(sample_of(name), CHANGE)
    assert not plan.ok
    assert plan.refusal is not None
    assert f"{sidecar.name} mounts its volumes (--volumes-from)" in plan.refusal
    assert "docker compose up" in plan.refusal
    assert worker_count(container) == 2 and serves(port)


@pytest.mark.parametrize(
    ("labels", "advice"),
    [
        (
            {"com.docker.swarm.service.name": "shop_web", "com.docker.swarm.task.id": "x1"},
            "docker service update --env-add GUNICORN_CMD_ARGS='...' shop_web",
        ),
        (
            {"io.kubernetes.pod.name": "web-7d9f", "io.kubernetes.pod.namespace": "shop"},
            "kubectl -n shop set env deployment/NAME",
        ),
    ],
    ids=["swarm-task", "kubernetes-pod"],
)
def test_a_container_an_orchestrator_owns_is_not_re_created(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
    labels: dict[str, str],
    advice: str,
) -> None:
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_LATEST, "-w", "2", labels=labels
    )
    name = container.name or ""
    result = run_gtui(
        "retune", name, "-w", "3", "--timeout", "45", "--yes", "--discard-changes",
        env={"GTUI_STATE_DIR": str(state_dir)},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert advice in result.stdout
    assert docker_client.containers.get(name).id == container.id
    assert worker_count(container) == 2 and serves(port)
