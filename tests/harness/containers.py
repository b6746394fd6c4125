"""Test containers: started on the host network (or a bridge network of the
factory's own, ports published on 127.0.0.1), labelled with their owner, removed after.

Other checkouts run their tests on the same engine at the same time, so every
container a test session starts carries the pid (and start time) of that
session's pytest process. Leftovers are removed only once their owner is gone.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import docker
import httpx
import psutil
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from tests.harness.loopback import wait_http

TEST_LABEL = "gtui-test"
OWNER_PID_LABEL = "gtui-test.owner-pid"
OWNER_STARTED_LABEL = "gtui-test.owner-started"
FACTORY_LABEL = "gtui-test.factory"
NAME_PREFIX = "gtui-test-"

# psutil rounds create times; a reused pid starts much later than this.
_START_TIME_SLACK_S = 1.0

_counter = itertools.count(1)


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of the containers it starts."""
    return {
        TEST_LABEL: "1",
        OWNER_PID_LABEL: str(os.getpid()),
        OWNER_STARTED_LABEL: f"{psutil.Process().create_time():.3f}",
    }


def owner_alive(labels: Mapping[str, str]) -> bool | None:
    """Whether the process named by a container's owner labels still runs.

    None when the labels name no owner (the container is then never removed:
    it may belong to someone else's tooling). A pid that now belongs to a
    process started later than the owner counts as dead.
    """
    try:
        pid = int(labels[OWNER_PID_LABEL])
    except (KeyError, ValueError):
        return None
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        # Exists but unreadable: treat as alive, never remove on a guess.
        return True
    try:
        started = float(labels[OWNER_STARTED_LABEL])
    except (KeyError, ValueError):
        return True
    return abs(created - started) <= _START_TIME_SLACK_S


def remove_leftover_containers(client: docker.DockerClient) -> list[str]:
    """Remove containers labelled ``gtui-test`` whose owner process is gone.

    Returns the names removed. Containers of live owners, and containers
    without owner labels, are left alone.
    """
    removed = []
    # The listing inspects each container: one removed meanwhile (by another
    # session on a shared engine) makes it fail; list again.
    for attempt in range(5):
        try:
            listed = client.containers.list(all=True, filters={"label": TEST_LABEL})
            break
        except NotFound:
            if attempt == 4:
                raise
    for container in listed:
        if owner_alive(container.labels) is not False:
            continue
        try:
            container.remove(force=True, v=True)
        except NotFound:
            continue
        removed.append(container.name or container.id or "?")
    return removed


def _as_argv(value: str | Sequence[str] | None) -> str | list[str] | None:
    # A string is left to Docker to split; any other sequence is an argv.
    if value is None or isinstance(value, str):
        return value
    return list(value)


def _unique_name() -> str:
    return f"{NAME_PREFIX}{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


class ContainerFactory:
    """Starts test containers and removes every one of them at ``close()``.

    Containers run detached with ``network_mode="host"``; servers in them
    must bind 127.0.0.1. Each carries the owner labels and this factory's id,
    so a container re-created from one of them (which copies the labels) is
    removed too.
    """

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.factory_id = uuid.uuid4().hex
        self._started: list[Container] = []
        self._network: str | None = None

    def labels(self) -> dict[str, str]:
        """The labels put on every container this factory starts."""
        return {**owner_labels(), FACTORY_LABEL: self.factory_id}

    def start(
        self,
        image_tag: str,
        command: str | Sequence[str] | None = None,
        *,
        entrypoint: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Container:
        """Run ``image_tag`` detached on the host network and return the container.

        ``name`` defaults to a unique ``gtui-test-...`` name; a given name gets
        the ``gtui-test-`` prefix when it lacks it (the caller keeps it
        unique). Extra ``kwargs`` go to ``containers.run``; ``labels`` given
        there are merged with the harness's own.
        """
        if name is None:
            name = _unique_name()
        elif not name.startswith(NAME_PREFIX):
            name = NAME_PREFIX + name
        labels = {**dict(kwargs.pop("labels", None) or {}), **self.labels()}
        if "network" not in kwargs:
            kwargs.setdefault("network_mode", "host")
        container: Container = self.client.containers.run(
            image_tag,
            command=_as_argv(command),
            entrypoint=_as_argv(entrypoint),
            environment=dict(env) if env is not None else None,
            name=name,
            labels=labels,
            detach=True,
            **kwargs,
        )
        self._started.append(container)
        return container

    def start_bridge(
        self,
        image_tag: str,
        command: str | Sequence[str] | None,
        *,
        published: Mapping[int, int],
        **kwargs: Any,
    ) -> Container:
        """Run ``image_tag`` on the default bridge network with each
        ``container port -> host port`` of ``published`` published on
        127.0.0.1 only (tests never address a container's own IP).

        The server in it must bind ``0.0.0.0:CONTAINER_PORT``.
        """
        ports = {f"{inner}/tcp": ("127.0.0.1", outer) for inner, outer in published.items()}
        return self.start(image_tag, command, network=self.bridge_network(), ports=ports, **kwargs)

    def bridge_network(self) -> str:
        """A user bridge network of this factory's own, made on first use.

        Not the default ``docker0``: a second dockerd started with
        ``--bridge none`` in the host's network namespace deletes docker0 (seen
        on these shared machines), while a user network's ``br-*`` stays.
        """
        if self._network is None:
            name = f"{NAME_PREFIX}net-{self.factory_id[:12]}"
            self.client.networks.create(name, driver="bridge", labels=self.labels())
            self._network = name
        return self._network

    def wait_http(
        self, container: Container, port: int, path: str = "/health", timeout_s: float = 30.0
    ) -> httpx.Response:
        """Wait until a server in ``container`` answers on 127.0.0.1:``port``.

        Fails at once, with the container's last log lines, if it exits first.
        """

        def still_running() -> None:
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs.get("State", {}).get("ExitCode")
                logs = container.logs(tail=20).decode(errors="replace")
                raise AssertionError(
                    f"container {container.name} exited (code {code}) before serving:\n{logs}"
                )

        return wait_http(port, path, timeout_s, check=still_running)

    def close(self) -> None:
        """Remove every container this factory started or that carries its id."""
        doomed = {container.id: container for container in self._started}
        try:
            for container in self.client.containers.list(
                all=True, filters={"label": f"{FACTORY_LABEL}={self.factory_id}"}
            ):
                doomed.setdefault(container.id, container)
        except DockerException:
            pass
        errors = []
        for container in list(doomed.values()):
            # The lock a gtui killed mid-action (SIGKILL) left on the engine.
            try:
                lock = self.client.containers.get(f"gtui-lock.{container.name}")
            except DockerException:
                continue
            if "io.gunicorn-tui.lock" in (lock.labels or {}):
                doomed.setdefault(lock.id, lock)
        for container in doomed.values():
            try:
                container.remove(force=True, v=True)
            except NotFound:
                continue
            except DockerException as error:
                errors.append(f"{container.name}: {error}")
        self._started.clear()
        if self._network is not None:
            try:
                self.client.networks.get(self._network).remove()
            except NotFound:
                pass
            except DockerException as error:
                errors.append(f"network {self._network}: {error}")
            self._network = None
        if errors:
            raise RuntimeError("could not remove test containers: " + "; ".join(errors))
