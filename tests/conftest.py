"""Shared fixtures: the Docker engine, test containers, and Gunicorn on the host.

Fixtures
--------
``docker_client`` (session)
    A pinged ``docker.DockerClient`` from the environment (DOCKER_HOST,
    contexts). When the engine is unreachable the test is skipped, or fails
    when Docker tests are required (``CI=true`` or ``GTUI_REQUIRE_DOCKER=1``).
``test_images`` (session)
    The tags of the test images (``tests.images.tags``), after checking that
    each exists and was built from the current inputs; skip or fail as above,
    with a message to run ``python tests/images/build.py``.
``container_factory``
    A ``tests.harness.containers.ContainerFactory``:
    ``start(image_tag, command=None, *, entrypoint=None, env=None, name=None,
    **kwargs) -> Container`` runs a container detached with
    ``network_mode="host"``, labelled ``gtui-test=1``,
    ``gtui-test.owner-pid=<pytest pid>`` and a per-factory id, named
    ``gtui-test-...``; ``wait_http(container, port, path="/health",
    timeout_s=30.0)`` waits until it serves (failing fast if it exits). Every
    container it started, or that carries its id, is removed (force, with
    volumes) at teardown. Before the first one, leftovers whose owner process
    is gone are removed; containers of live owners (other checkouts testing
    on the same engine) are never touched.
``local_gunicorn``
    A ``tests.harness.local_gunicorn.LocalGunicornFactory``:
    ``start(*args, app="sample_app:app", port=None, env=None, timeout_s=20.0)
    -> LocalGunicorn`` runs ``sys.executable -m gunicorn`` on the host with the
    bundled sample app, bound to a free port on 127.0.0.1, and waits until it
    serves /health; ``stop(server)`` ends it. Teardown stops every server
    and its workers.

Plain helpers (import them): ``tests.harness.loopback.free_port() -> int`` and
``tests.harness.loopback.wait_http(port, path="/health", timeout_s=15.0, *,
check=None) -> httpx.Response``.

Tests that use ``docker_client`` (directly or through another fixture) get
the ``docker`` marker automatically, so ``-m "not docker"`` leaves them out;
mark others that need the engine with ``@pytest.mark.docker`` yourself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest
from docker.errors import DockerException

from tests.harness.containers import ContainerFactory, remove_leftover_containers
from tests.harness.docker_access import docker_unavailable
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.images import tags
from tests.images.build import stale_images


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the Docker engine with ``docker``."""
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", autouse=True)
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """gtui's host-wide lock directory, private to this test session (GTUI_LOCK_DIR,
    inherited by the gtui processes tests start): the machine's stays clean.
    The test of locks between users unsets it on purpose."""
    previous = os.environ.get("GTUI_LOCK_DIR")
    os.environ["GTUI_LOCK_DIR"] = str(tmp_path_factory.mktemp("gtui-locks"))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("GTUI_LOCK_DIR", None)
        else:
            os.environ["GTUI_LOCK_DIR"] = previous


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A pinged Docker client; skips (or fails when required) if the engine is away."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        docker_unavailable(f"Docker engine unreachable: {error}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def test_images(docker_client: docker.DockerClient) -> tuple[str, ...]:
    """The test image tags, checked present and current on the engine."""
    try:
        stale = stale_images(docker_client)
    except DockerException as error:
        docker_unavailable(f"cannot list images on the Docker engine: {error}")
    if stale:
        docker_unavailable(
            f"test images missing or built from older inputs: {', '.join(stale)}; "
            "run `python tests/images/build.py`"
        )
    return tags.TEST_IMAGES


@pytest.fixture(scope="session")
def _leftovers_removed(docker_client: docker.DockerClient) -> list[str]:
    """Names of leftover test containers (owner gone) removed at session start."""
    return remove_leftover_containers(docker_client)


@pytest.fixture
def container_factory(
    docker_client: docker.DockerClient,
    test_images: tuple[str, ...],
    _leftovers_removed: list[str],
) -> Iterator[ContainerFactory]:
    """Starts test containers on the host network; removes them all at teardown."""
    factory = ContainerFactory(docker_client)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def local_gunicorn() -> Iterator[LocalGunicornFactory]:
    """Starts real Gunicorn servers on the host; stops them and their workers at teardown."""
    factory = LocalGunicornFactory()
    try:
        yield factory
    finally:
        factory.close()
