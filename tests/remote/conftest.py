"""Host B: a second Docker engine reached over SSH (tests/harness/remote_hosts.py).

``host_b`` (session) starts the second dockerd with the test image loaded and
an sshd whose sessions have ``DOCKER_HOST`` pointing at it; ``ssh://hostb``
then reaches engine B through the system ssh, as a remote host would be. The
``ssh`` wrapper of the harness goes first on PATH (for this process and the
gtui processes it starts), standing in for the user's ~/.ssh/config.
Everything is stopped and removed at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from tests.harness.containers import ContainerFactory
from tests.harness.docker_access import docker_unavailable
from tests.harness.remote_hosts import SecondEngine, SshServer, remove_leftovers
from tests.images import tags

ALIAS = "hostb"


@dataclass
class HostB:
    engine: SecondEngine
    sshd: SshServer
    url: str = f"ssh://{ALIAS}"
    name: str = ALIAS


@pytest.fixture(scope="session")
def host_b(docker_client: docker.DockerClient, test_images: tuple[str, ...]) -> Iterator[HostB]:
    """Engine B behind its own sshd; see the module docstring."""
    remove_leftovers()  # of a session killed before its teardown
    try:
        engine = SecondEngine((tags.GUNICORN_LATEST,), docker_client)
    except RuntimeError as error:
        docker_unavailable(f"cannot start a second dockerd: {error}")
    try:
        sshd = SshServer(ALIAS, {"DOCKER_HOST": engine.url})
    except BaseException:
        engine.close()
        raise
    previous_path = os.environ["PATH"]
    os.environ["PATH"] = f"{sshd.bin_dir}{os.pathsep}{previous_path}"
    try:
        yield HostB(engine, sshd)
    finally:
        os.environ["PATH"] = previous_path
        sshd.close()
        engine.close()


@pytest.fixture
def factory_b(host_b: HostB) -> Iterator[ContainerFactory]:
    """Test containers on engine B, removed after the test."""
    factory = ContainerFactory(host_b.engine.client)
    try:
        yield factory
    finally:
        factory.close()
