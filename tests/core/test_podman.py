"""Podman through its Docker-compatible API: containers (cgroup scope
``libpod-<id>``) are named, sampled and retuned as Docker's are; a socket
that goes away is said in one line. A private ``podman system service`` per
session (tests/harness/podman.py); traffic only to 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.core.monitor_waits import run_gtui
from tests.harness.containers import remove_leftover_containers
from tests.harness.docker_access import docker_unavailable
from tests.harness.loopback import free_port, wait_http
from tests.harness.podman import PodmanFactory, PodmanService, ensure_image, podman_binary
from tests.images import tags


@pytest.fixture(scope="module")
def podman_service(test_images: tuple[str, ...]) -> Iterator[PodmanService]:
    if podman_binary() is None:
        docker_unavailable("podman is not installed (apt-get install podman)")
    service = PodmanService()
    try:
        service.start()
    except RuntimeError as error:
        service.close()
        docker_unavailable(str(error))
    remove_leftover_containers(service.client())
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def podman(podman_service: PodmanService) -> Iterator[PodmanFactory]:
    factory = PodmanFactory(podman_service)
    try:
        yield factory
    finally:
        factory.close()


def _gtui(service: PodmanService, *args: str, timeout_s: float = 120) -> tuple[int, str, str]:
    done = run_gtui(*args, env={"DOCKER_HOST": service.host}, timeout_s=timeout_s)
    return done.returncode, done.stdout, done.stderr


def test_podman_container_is_named_sampled_and_retuned(podman: PodmanFactory) -> None:
    image = ensure_image(tags.GUNICORN_LATEST)
    port = free_port()
    container = podman.start(image, ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "app:app"])
    wait_http(port, "/health", 60)
    name = container.name or ""
    code, out, err = _gtui(podman.service, "snapshot", name, "--json")
    assert code == 0, err
    (instance,) = json.loads(out)["instances"]
    assert instance["container"]["name"] == name
    assert instance["container"]["id"] == container.id
    assert instance["sampling"] == "procfs"  # its pids are this host's
    assert instance["workers_current"] == 2
    assert instance["reach"]["url"] == f"http://127.0.0.1:{port}"
    with open(f"/proc/{instance['master']['pid']}/cgroup") as cgroup:
        assert f"libpod-{container.id}" in cgroup.read()

    code, out, err = _gtui(
        podman.service, "retune", name, "--timeout", "45", "--yes", timeout_s=240
    )
    assert code == 0, out + err
    code, out, err = _gtui(podman.service, "snapshot", name, "--json")
    assert code == 0, err
    (instance,) = json.loads(out)["instances"]
    assert instance["config"]["timeout"]["value"] == 45


def test_a_podman_socket_that_goes_away_is_one_line(podman: PodmanFactory) -> None:
    image = ensure_image(tags.GUNICORN_LATEST)
    port = free_port()
    container = podman.start(image, ["gunicorn", "-b", f"127.0.0.1:{port}", "app:app"])
    wait_http(port, "/health", 60)
    podman.service.stop()
    try:
        code, out, err = _gtui(podman.service, "snapshot", container.name or "")
        assert code == 4, out + err
        (line,) = err.strip().splitlines()
        assert "not reachable" in line and str(podman.service.socket_path) in line
        # Without a container target the host's masters are still listed, the
        # engine said to be unreachable; the container still serves.
        code, out, err = _gtui(podman.service, "ls")
        assert code == 0, err
        assert "docker: unreachable" in out
        wait_http(port, "/health", 10)
    finally:
        podman.service.start()
