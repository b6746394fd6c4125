"""A typed door to a Docker-API engine: the calls the control path makes, nothing else.

docker-py's client is untyped and raises a zoo of exceptions (``NotFound``,
``APIError``, requests' connection errors, bare ``ConnectionError``). This
wrapper gives each call a typed result and turns every failure into an
:class:`~gunicorn_tui.access.errors.AccessError` with one line for the
operator: :class:`TargetGone` for "no such container", :class:`EngineLost`
for a daemon that does not answer.

Any engine that speaks the Docker API goes through this class: Docker
itself, Podman's compatible socket, a daemon reached over SSH. The engine's
``ID`` (from ``/info``) names it in journals, so an interrupted action is
never settled against another engine.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gunicorn_tui.access.docker_connect import DockerUnavailable, connect
from gunicorn_tui.access.errors import AccessError, EngineLost, TargetGone
from gunicorn_tui.access.files import ABSENT, MAX_FILE_BYTES, FileKind, FileState

LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class EngineIdentity:
    """Which engine this is, stable across its restarts.

    ``engine_id`` joins the engine's ``ID`` with its host name and data root:
    two daemons of one machine (a second dockerd, rootless Docker, Podman)
    can share an ``ID`` derived from one key file, never a data root.
    """

    engine_id: str
    name: str
    address: str

    def describe(self) -> str:
        return f"engine {self.engine_id or '?'} ({self.address})"


@dataclass(frozen=True)
class ExecResult:
    """What a command run inside a container returned."""

    exit_code: int
    output: str


class ChangeKind(StrEnum):
    """``docker diff``'s letters."""

    CHANGED = "C"
    ADDED = "A"
    DELETED = "D"


@dataclass(frozen=True)
class LayerChange:
    """One path of a container's writable layer that differs from its image."""

    path: str
    kind: ChangeKind


# Go's os.FileMode type bits, as the archive endpoint reports them.
_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_TYPE = _MODE_DIR | _MODE_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


@dataclass(frozen=True)
class PathStat:
    """A path in a container as the engine's archive endpoint describes it."""

    mode_bits: int
    size_bytes: int
    link_target: str | None

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode_bits & _MODE_SYMLINK)

    @property
    def is_directory(self) -> bool:
        return bool(self.mode_bits & _MODE_DIR)

    @property
    def is_regular(self) -> bool:
        return not self.mode_bits & _MODE_TYPE


@dataclass(frozen=True)
class NetworkEndpoint:
    """A network to connect a created container to, with its endpoint settings."""

    network: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def _line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else type(value).__name__


def engine_error(error: BaseException, what: str) -> AccessError:
    """An AccessError saying what went wrong with an engine call, in one line."""
    import docker.errors
    import requests

    if isinstance(error, docker.errors.NotFound):
        return TargetGone(f"{what}: no longer exists")
    if isinstance(error, requests.exceptions.ConnectionError | ConnectionError | TimeoutError):
        return EngineLost(f"{what}: Docker daemon unreachable ({_line(error)})")
    if isinstance(error, requests.exceptions.RequestException):
        return EngineLost(f"{what}: Docker daemon unreachable ({_line(error)})")
    if isinstance(error, docker.errors.APIError):
        explanation = getattr(error, "explanation", None) or str(error)
        return AccessError(f"{what}: {_line(explanation)}")
    return AccessError(f"{what}: {_line(error)}")


class DockerEngine:
    """The control path's calls to one Docker-API engine (see the module docstring)."""

    def __init__(self, client: Any, address: str | None = None) -> None:
        # ``client`` is a docker.DockerClient; it never leaves this class.
        self._client = client
        self.address = address or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self._identity: EngineIdentity | None = None

    @classmethod
    def connect(cls) -> DockerEngine:
        """Connect as the Docker CLI would (``DOCKER_HOST``, the current context)."""
        try:
            return cls(connect())
        except DockerUnavailable as error:
            raise EngineLost(str(error)) from error

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:
            raise engine_error(error, what) from error

    # -- the engine ------------------------------------------------------------------

    def identity(self) -> EngineIdentity:
        """This engine's ID and name (asked once, then remembered)."""
        if self._identity is None:
            info = self._call("docker info", self._client.api.info)
            name = str(info.get("Name") or "")
            parts = (str(info.get("ID") or ""), name, str(info.get("DockerRootDir") or ""))
            self._identity = EngineIdentity(
                engine_id=" ".join(parts) if any(parts) else "",
                name=name,
                address=self.address,
            )
        return self._identity

    @property
    def api_version(self) -> str:
        return str(getattr(self._client.api, "api_version", ""))

    # -- containers: reading -------------------------------------------------------

    def inspect(self, name_or_id: str) -> Mapping[str, Any] | None:
        """A container's inspect, or None when there is no such container."""
        import docker.errors

        try:
            inspect: Mapping[str, Any] = self._client.api.inspect_container(name_or_id)
        except docker.errors.NotFound:
            return None
        except Exception as error:
            raise engine_error(error, f"inspect {name_or_id}") from error
        return inspect

    def inspect_image(self, reference: str) -> Mapping[str, Any] | None:
        """An image's inspect, or None when the engine does not have it."""
        import docker.errors

        try:
            inspect: Mapping[str, Any] = self._client.api.inspect_image(reference)
        except docker.errors.NotFound:
            return None
        except Exception as error:
            raise engine_error(error, f"inspect image {reference}") from error
        return inspect

    def containers(
        self, *, filters: Mapping[str, Any] | None = None, all_states: bool = False
    ) -> list[Mapping[str, Any]]:
        """``docker ps`` (``-a`` with ``all_states``): summaries, not inspects."""
        found = self._call(
            "docker ps",
            lambda: self._client.api.containers(all=all_states, filters=dict(filters or {})),
        )
        return list(found or [])

    def diff(self, container_id: str) -> tuple[LayerChange, ...]:
        """``docker diff``: the container's writable layer against its image."""
        rows = self._call(
            f"docker diff {container_id[:12]}", lambda: self._client.api.diff(container_id)
        )
        changes = []
        for row in rows or []:
            kind = {0: ChangeKind.CHANGED, 1: ChangeKind.ADDED, 2: ChangeKind.DELETED}.get(
                int(row.get("Kind", 0)), ChangeKind.CHANGED
            )
            changes.append(LayerChange(str(row.get("Path", "")), kind))
        return tuple(changes)

    def top(self, container_id: str, ps_args: str) -> Mapping[str, Any]:
        """``docker top`` (host pids on a local daemon)."""
        result: Mapping[str, Any] = self._call(
            f"docker top {container_id[:12]}",
            lambda: self._client.api.top(container_id, ps_args=ps_args),
        )
        return result

    def logs_tail(self, container_id: str, lines: int = LOG_TAIL_LINES) -> str | None:
        """The last lines a container wrote (stdout and stderr), or None."""
        try:
            raw = self._client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except Exception:
            return None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return text.strip() or None

    # -- containers: lifecycle -------------------------------------------------------

    def create(
        self, name: str, body: Mapping[str, Any], networks: Sequence[NetworkEndpoint] = ()
    ) -> str:
        """Create a container (not started) and connect its extra networks; its id.

        When a network cannot be connected, the container just created is
        removed again (it is known to be ours: its id came back from create).
        """
        created = self._call(
            f"create {name}",
            lambda: self._client.api.create_container_from_config(dict(body), name=name),
        )
        container_id = str(created["Id"])
        for endpoint in networks:
            ipam = endpoint.settings.get("IPAMConfig") or {}
            try:
                self._client.api.connect_container_to_network(
                    container_id,
                    endpoint.network,
                    aliases=endpoint.settings.get("Aliases"),
                    links=endpoint.settings.get("Links"),
                    ipv4_address=ipam.get("IPv4Address"),
                    ipv6_address=ipam.get("IPv6Address"),
                    link_local_ips=ipam.get("LinkLocalIPs"),
                    driver_opt=endpoint.settings.get("DriverOpts"),
                )
            except Exception as error:
                self.remove(container_id, force=True)
                raise engine_error(
                    error, f"connect {name} to network {endpoint.network}"
                ) from error
        return container_id

    def start(self, container_id: str, what: str) -> None:
        self._call(f"start {what}", lambda: self._client.api.start(container_id))

    def stop(self, container_id: str, timeout_s: int, what: str) -> None:
        self._call(f"stop {what}", lambda: self._client.api.stop(container_id, timeout=timeout_s))

    def rename(self, container_id: str, new_name: str, what: str) -> None:
        self._call(
            f"rename {what} to {new_name}", lambda: self._client.api.rename(container_id, new_name)
        )

    def remove(self, container_id: str, *, force: bool = False) -> None:
        """Remove a container, never its volumes (a replacement may mount them)."""
        self._call(
            f"remove {container_id[:12]}",
            lambda: self._client.api.remove_container(container_id, v=False, force=force),
        )

    def kill(self, container_id: str, signal_name: str) -> None:
        """``docker kill --signal``: reaches the container's PID 1 only."""
        self._call(
            "docker kill",
            lambda: self._client.api.kill(container_id, signal=f"SIG{signal_name.upper()}"),
        )

    # -- inside a container ------------------------------------------------------------

    def exec(
        self,
        container_id: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run ``argv`` inside the container (its namespaces, its user), wait, return."""
        what = f"docker exec {argv[0] if argv else ''}".strip()

        def run() -> ExecResult:
            api = self._client.api
            created = api.exec_create(
                container_id,
                list(argv),
                stdout=True,
                stderr=True,
                user=user or "",
                workdir=workdir or None,
                environment=dict(environment) if environment else None,
            )
            output = api.exec_start(created["Id"])
            code = api.exec_inspect(created["Id"]).get("ExitCode")
            text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
            return ExecResult(int(code) if code is not None else -1, text)

        result: ExecResult = self._call(what, run)
        return result

    def stat(self, container_id: str, path: str) -> PathStat | None:
        """What ``path`` is in the container (HEAD of the archive endpoint), or
        None when nothing is there. The engine resolves the path's directories
        inside the container's root and reports a symlink as one."""
        import docker.errors

        api = self._client.api

        def head() -> Any:
            response = api.head(
                api._url("/containers/{0}/archive", container_id), params={"path": path}
            )
            if response.status_code == 404:
                return None
            api._raise_for_status(response)
            return response.headers.get("X-Docker-Container-Path-Stat")

        try:
            header = head()
        except docker.errors.NotFound:
            return None
        except Exception as error:
            raise engine_error(error, f"stat {path}") from error
        if not header:
            return None
        try:
            stat = json.loads(base64.b64decode(header))
        except (ValueError, TypeError) as error:
            raise AccessError(f"stat {path}: unreadable answer from the engine") from error
        return PathStat(
            mode_bits=int(stat.get("mode") or 0),
            size_bytes=int(stat.get("size") or 0),
            link_target=str(stat.get("linkTarget") or "") or None,
        )

    def file_state(self, container_id: str, path: str) -> FileState:
        """What is at ``path`` in the container, through the archive API.

        The engine resolves the path inside the container's root (as
        ``docker cp`` does) and reports a symlink as one, without following it.
        """
        import docker.errors

        found = self.stat(container_id, path)
        if found is None:
            return ABSENT
        if found.is_symlink:
            return FileState(FileKind.SYMLINK, link_target=found.link_target)
        if not found.is_regular:
            return FileState(FileKind.OTHER)
        if found.size_bytes > MAX_FILE_BYTES:
            return FileState(FileKind.UNREADABLE, reason="larger than 1 MiB")
        try:
            stream, _ = self._client.api.get_archive(container_id, path)
            data = b"".join(_bounded(stream, MAX_FILE_BYTES * 2))
        except docker.errors.NotFound:
            return ABSENT
        except docker.errors.APIError as error:
            return FileState(FileKind.UNREADABLE, reason=_line(error.explanation or error))
        except Exception as error:
            raise engine_error(error, f"read {path}") from error
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                member = archive.next()
                if member is None or not member.isfile():
                    return FileState(FileKind.OTHER)
                handle = archive.extractfile(member)
                content = handle.read() if handle is not None else b""
                return FileState(FileKind.REGULAR, content=content, uid=member.uid, gid=member.gid)
        except tarfile.TarError as error:
            return FileState(FileKind.UNREADABLE, reason=f"archive: {error}")

    def put_file(
        self, container_id: str, path: str, data: bytes, *, mode: int, owner: tuple[int, int]
    ) -> None:
        """Write one file through the archive API (``docker cp``): the engine
        resolves the directory inside the container's root; an entry already at
        ``path`` is replaced, never followed. Works on a stopped container."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(os.path.basename(path))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            info.uid, info.gid = owner
            archive.addfile(info, io.BytesIO(data))
        directory = os.path.dirname(path) or "/"
        ok = self._call(
            f"write {path}",
            lambda: self._client.api.put_archive(container_id, directory, buffer.getvalue()),
        )
        if not ok:
            raise AccessError(f"could not write {path} in the container")


def _bounded(stream: Iterable[bytes], limit: int) -> Iterable[bytes]:
    total = 0
    for chunk in stream:
        total += len(chunk)
        yield chunk
        if total > limit:
            return
