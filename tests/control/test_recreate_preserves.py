"""A re-create keeps everything about the container but the changed setting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.control.running.container_ops import REPLACES_LABEL, RETUNE_LABEL
from tests.control.helpers import sample_of
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags

pytestmark = pytest.mark.slow

HEALTHCHECK = {
    "test": [
        "CMD",
        "python3",
        "-c",
        "import socket; socket.create_connection(('127.0.0.1', 8000))",
    ],
    "interval": 5_000_000_000,
    "timeout": 2_000_000_000,
    "retries": 3,
}


@pytest.fixture
def side_resources(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """A named volume and two user-defined networks, removed at the end.

    (Two user networks rather than the default bridge: this machine's dockerd
    runs without docker0.)
    """
    suffix = uuid.uuid4().hex[:8]
    volume = docker_client.volumes.create(f"gtui-test-vol-{suffix}", labels={"gtui-test": "1"})
    networks = [
        docker_client.networks.create(f"gtui-test-net-{suffix}-{n}", labels={"gtui-test": "1"})
        for n in ("front", "back")
    ]
    try:
        yield {
            "volume": str(volume.name),
            "front": str(networks[0].name),
            "back": str(networks[1].name),
        }
    finally:
        for network in networks:
            network.reload()
            for container in network.containers:
                network.disconnect(container, force=True)
            network.remove()
        volume.remove(force=True)


def _endpoint(inspect: dict[str, Any], network: str) -> list[str]:
    short = inspect["Id"][:12]
    aliases = inspect["NetworkSettings"]["Networks"][network].get("Aliases") or []
    return sorted(a for a in aliases if a != short)


def test_a_re_create_preserves_the_container_settings(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    side_resources: dict[str, str],
    state_dir: Path,
) -> None:
    # Bridge networking with a published port (no traffic goes through it);
    # readiness is judged from the master and workers.
    host_port = free_port()
    api = docker_client.api
    labels = {
        **container_factory.labels(),
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1",
        "team": "payments",
    }
    name = f"gtui-test-keep-{uuid.uuid4().hex[:8]}"
    created = api.create_container(
        tags.GUNICORN_LATEST,
        command=["gunicorn", "-w", "2", "-b", "0.0.0.0:8000", "app:app"],
        name=name,
        environment={"APP_MODE": "production", "FEATURE_X": "on"},
        labels=labels,
        ports=[8000],
        volumes=["/data-anon", "/data-named"],
        working_dir="/app",
        user="0:0",
        healthcheck=HEALTHCHECK,
        stop_signal="SIGTERM",
        host_config=api.create_host_config(
            port_bindings={8000: ("127.0.0.1", host_port)},
            binds={side_resources["volume"]: {"bind": "/data-named", "mode": "rw"}},
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
            mem_limit="256m",
            nano_cpus=500_000_000,
            network_mode=side_resources["front"],
        ),
        networking_config={"EndpointsConfig": {side_resources["front"]: {"Aliases": ["web"]}}},
    )
    container_id = created["Id"]
    api.connect_container_to_network(container_id, side_resources["back"], aliases=["shop-api"])
    api.start(container_id)
    # Something in the anonymous volume must survive the re-create.
    api.exec_start(api.exec_create(container_id, ["sh", "-c", "echo kept > /data-anon/mark"])["Id"])
    before: dict[str, Any] = api.inspect_container(container_id)

    engine = ControlEngine(state_directory=state_dir, docker_client=docker_client)
    # The count alone would change in place; with a second setting while -w is
    # on the command line, the plan re-creates.
    plan = engine.plan_retune(sample_of(name, workers=2), RetuneRequest(workers=3, timeout=35))
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    after: dict[str, Any] = api.inspect_container(name)
    assert after["Id"] != before["Id"]

    old, new = before["Config"], after["Config"]
    assert new["Cmd"] == ["gunicorn", "-w", "3", "-b", "0.0.0.0:8000", "app:app"]
    assert new["Env"] == [*old["Env"], "GUNICORN_CMD_ARGS=--timeout 35"]
    # Every label is kept; gtui adds its own, naming the retune that made it.
    assert new["Labels"] == {
        **old["Labels"],
        RETUNE_LABEL: outcome.journal_id,
        REPLACES_LABEL: before["Id"],
    }
    for key in (
        "User",
        "WorkingDir",
        "Healthcheck",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
        "Image",
        "Entrypoint",
    ):
        assert new.get(key) == old.get(key), key
    for key in ("PortBindings", "RestartPolicy", "Memory", "NanoCpus", "NetworkMode"):
        assert after["HostConfig"][key] == before["HostConfig"][key], key
    assert after["HostConfig"]["Binds"][0] == before["HostConfig"]["Binds"][0]

    def volumes(inspect: dict[str, Any]) -> dict[str, str]:
        return {m["Destination"]: m["Name"] for m in inspect["Mounts"] if m["Type"] == "volume"}

    assert volumes(after) == volumes(before)
    mark = api.exec_start(api.exec_create(after["Id"], ["cat", "/data-anon/mark"])["Id"])
    assert mark.strip() == b"kept"

    assert set(after["NetworkSettings"]["Networks"]) == set(before["NetworkSettings"]["Networks"])
    for network, alias in ((side_resources["front"], "web"), (side_resources["back"], "shop-api")):
        assert _endpoint(after, network) == _endpoint(before, network) == [alias]
    assert after["State"]["Running"] and after["Name"] == before["Name"]
    # The journal archive keeps the original inspect whole.
    (archived,) = engine.journals.archived()
    assert archived.data["original_inspect"]["Id"] == before["Id"]
    assert archived.data["original_inspect"]["HostConfig"] == before["HostConfig"]

    # The anonymous volume now belongs to the new container: remove it with it.
    anon = volumes(before)["/data-anon"]
    docker_client.containers.get(name).remove(force=True)
    docker_client.volumes.get(anon).remove(force=True)
