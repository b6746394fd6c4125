"""Fixtures for the control tests: a state directory, samples of real servers,
plain host Gunicorn servers, and a Docker socket forwarder that can be stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.control.helpers import PlainGunicornFactory, SocketForwarder


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh gtui state directory, also exported as GTUI_STATE_DIR."""
    path = tmp_path / "state"
    monkeypatch.setenv("GTUI_STATE_DIR", str(path))
    return path


@pytest.fixture
def plain_gunicorn(tmp_path: Path) -> Iterator[PlainGunicornFactory]:
    """Host Gunicorn servers started without --chdir (their start directory is
    their working directory); stops them, and masters a test restarted, at teardown."""
    factory = PlainGunicornFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def docker_forwarder(
    docker_client: docker.DockerClient, tmp_path: Path
) -> Iterator[SocketForwarder]:
    """A unix-socket forwarder in front of the real Docker socket (never the
    daemon itself is stopped: other sessions share it)."""
    forwarder = SocketForwarder(Path("/tmp") / f"gtui-fwd-{tmp_path.name[-20:]}.sock")
    forwarder.start()
    try:
        yield forwarder
    finally:
        forwarder.stop()
