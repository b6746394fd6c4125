"""A real Compose project (Debian's ``docker-compose`` v1) for tests.

The compose file is written to a temporary directory the test owns; every
service carries the harness's owner labels, so the factory removes its
containers if the test dies, and ``down()`` removes the project's network.
Ports are published on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.harness.containers import ContainerFactory

COMPOSE_TIMEOUT_S = 180.0


def compose_binary() -> str:
    """The ``docker-compose`` executable, or skip (CI installs it: .ci/run)."""
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


class ComposeProject:
    """One project in ``directory``: ``up(scale=N)``, ``down()``."""

    def __init__(self, factory: ContainerFactory, directory: Path, compose_text: str) -> None:
        self.factory = factory
        self.directory = directory
        self.name = f"gtui-test-{uuid.uuid4().hex[:8]}"
        self.file = directory / "docker-compose.yml"
        self.file.write_text(compose_text)
        self._binary = compose_binary()

    def labels_yaml(self, indent: int = 6) -> str:
        """The harness's labels as YAML mapping lines, for a service's ``labels:``."""
        pad = " " * indent
        return "\n".join(f'{pad}{key}: "{value}"' for key, value in self.factory.labels().items())

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self._binary, "-p", self.name, "-f", str(self.file), *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=COMPOSE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed:\n{done.stderr}")
        return done

    def up(self, service: str, scale: int) -> list[str]:
        """Start ``service`` with ``scale`` replicas; their container names, by number."""
        self.run("up", "-d", "--scale", f"{service}={scale}")
        return self.containers(service)

    def containers(self, service: str) -> list[str]:
        found = self.factory.client.containers.list(
            filters={
                "label": [
                    f"com.docker.compose.project={self.name}",
                    f"com.docker.compose.service={service}",
                ]
            }
        )
        found.sort(key=lambda c: int(c.labels.get("com.docker.compose.container-number", "0")))
        return [c.name or "" for c in found]

    def down(self) -> None:
        subprocess.run(
            [self._binary, "-p", self.name, "-f", str(self.file), "down", "-t", "2"],
            cwd=self.directory,
            capture_output=True,
            timeout=COMPOSE_TIMEOUT_S,
            check=False,
        )
