"""Kill gtui with SIGKILL at every step of a container re-create, then `gtui recover`:
each time the service serves again, on its old or its new config, and the
original container's inspect is kept in the journal archive."""

from __future__ import annotations

import signal
from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.durability.audit_log import AuditLog
from gunicorn_tui.control.durability.journal import JournalStore
from tests.control.helpers import gunicorn_container, run_gtui, serves, show_config, worker_count
from tests.harness.containers import ContainerFactory
from tests.harness.crash_after_step import run_crashing_gtui
from tests.images import tags

pytestmark = pytest.mark.slow

# check, create, stop, rename old, rename new, start, wait, remove old.
RECREATE_STEPS = 8


@pytest.mark.parametrize("crash_after", range(RECREATE_STEPS + 1))
def test_sigkill_at_each_step_of_a_re_create_is_recovered(
    crash_after: int,
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    original_id = str(container.id)

    killed = run_crashing_gtui(
        crash_after,
        "retune",
        name,
        "--workers",
        "3",
        "--timeout",
        "44",
        "--yes",
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (pending,) = JournalStore(state_dir).pending()
    assert pending.steps_done == crash_after
    assert pending.data["original_inspect"]["Id"] == original_id

    listed = run_gtui("recover", "--list")
    assert listed.returncode == 0 and pending.id in listed.stdout

    recovered = run_gtui("recover")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert serves(port)
    survivor = docker_client.containers.get(name)
    assert survivor.status == "running"
    config = show_config(survivor)
    if survivor.id == original_id:
        assert (config["workers"], config["timeout"], worker_count(survivor)) == (2, 30, 2)
    else:
        assert (config["workers"], config["timeout"], worker_count(survivor)) == (3, 44, 3)
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(original_id)
    # Whatever happened, no temporary or set-aside container is left behind.
    assert docker_client.containers.list(all=True, filters={"name": f"{name}-gtui"}) == []
    # The original configuration stays restorable from the archive.
    assert JournalStore(state_dir).pending() == []
    (archived,) = JournalStore(state_dir).archived()
    original = archived.data["original_inspect"]
    assert original["Id"] == original_id
    assert original["Config"]["Cmd"] == [
        "gunicorn",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "app:app",
    ]
    assert AuditLog(state_dir).read().records[-1].action == "recover retune"
