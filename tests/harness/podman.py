"""Podman for tests: its Docker-compatible API service, the test image loaded
into its storage (no registry: ``docker save | podman load``), and containers
started through that API, labelled with their owner and removed after.

Each test session starts its own ``podman system service`` on a private
socket, so a test may stop it (the socket going away) without touching the
machine's ``/run/podman/podman.sock``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from tests.harness.containers import NAME_PREFIX, owner_labels

CONTAINERS_CONF = Path(__file__).with_name("podman-containers.conf")
START_TIMEOUT_S = 30.0


def podman_binary() -> str | None:
    return shutil.which("podman")


class PodmanService:
    """One ``podman system service`` on a private socket."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gtui-podman-"))
        self.socket_path = self.root / "podman.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that reaches it."""
        return f"unix://{self.socket_path}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=60)

    def start(self) -> None:
        binary = podman_binary()
        if binary is None:
            raise RuntimeError("podman is not installed")
        # All three streams redirected: a caller capturing output would wait forever.
        self._process = subprocess.Popen(
            [binary, "system", "service", "-t", "0", self.host],
            env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "service.log").open("wb"),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.client().ping()
                return
            except DockerException:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log = (self.root / "service.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"podman system service did not start:\n{log}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the service (its containers keep running: conmon owns them)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def ensure_image(tag: str) -> str:
    """``tag`` from Docker loaded into Podman's storage; Podman's name for it."""
    binary = podman_binary()
    assert binary is not None
    name = f"localhost/{tag}"
    docker_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    present = subprocess.run(
        [binary, "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if present.returncode == 0 and docker_id.endswith(present.stdout.strip()):
        return name
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    loaded = subprocess.run(
        [binary, "load"], stdin=save.stdout, capture_output=True, timeout=600, check=False
    )
    save.wait(timeout=60)
    if loaded.returncode != 0 or save.returncode != 0:
        raise RuntimeError(f"docker save | podman load failed: {loaded.stderr.decode()[-500:]}")
    return name


class PodmanFactory:
    """Starts containers through a PodmanService's API on the host network;
    ``close()`` removes them (and whatever carries this factory's id)."""

    def __init__(self, service: PodmanService) -> None:
        self.service = service
        self.factory_id = uuid.uuid4().hex
        self.client = service.client()

    def start(self, image: str, command: Sequence[str], **kwargs: Any) -> Container:
        name = f"{NAME_PREFIX}pod-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        labels = {**owner_labels(), "gtui-test.factory": self.factory_id}
        container: Container = self.client.containers.run(
            image, list(command), name=name, labels=labels, network_mode="host",
            detach=True, **kwargs,
        )  # fmt: skip
        return container

    def close(self) -> None:
        client = self.service.client()
        try:
            found = client.containers.list(
                all=True, filters={"label": f"gtui-test.factory={self.factory_id}"}
            )
        except DockerException:
            return
        for container in found:
            try:
                container.remove(force=True, v=True)
            except NotFound:
                continue
