"""Running containers, kept current from Docker events.

The container list is read once, then kept up to date by the events stream
(start, die, destroy, rename), so polling never asks the daemon anything.
When the daemon goes away the watcher says so, keeps the last list marked
stale, and reconnects with backoff; on reconnect it lists again.

docker-py honours ``DOCKER_HOST`` and, when it is unset, the current docker
context (docker >= 7.2).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from gunicorn_tui.access.docker_connect import (
    DockerUnavailable,
    connect,
    daemon_host,
    unavailable_reason,
)
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.locality import container_access_kind
from gunicorn_tui.discovery.container_shape import compose_of, networking_of
from gunicorn_tui.host.procfs import parse_environ_list
from gunicorn_tui.model.instances import ContainerRef

if TYPE_CHECKING:
    from gunicorn_tui.access.engine_lite import LiteEngineApi

_RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
# After a failed attempt to make the full client, callers get None (as while
# disconnected) for this long instead of waiting on a connect each time.
_CLIENT_RETRY_S = 5.0


class EngineReadApi(Protocol):
    """The read-only calls the watcher makes: docker-py's low-level client
    (``DockerClient.api``) or :class:`~gunicorn_tui.access.engine_lite.LiteEngineApi`."""

    def info(self) -> Mapping[str, Any]: ...

    def inspect_container(self, container: str) -> Mapping[str, Any]: ...


class DaemonState(StrEnum):
    """Whether gtui can talk to the Docker daemon."""

    CONNECTED = "connected"
    UNREACHABLE = "unreachable"
    DISABLED = "disabled"


@dataclass(frozen=True)
class DaemonStatus:
    """The daemon as last seen, for the status line and --json."""

    state: DaemonState
    message: str
    since: float
    host: str
    # The engine's name in gtui ("local", a context or host name) and its
    # identity (ID, name, data root) once it answered: two names of one
    # engine are told apart by it.
    name: str = "local"
    engine_id: str = ""

    @property
    def connected(self) -> bool:
        return self.state is DaemonState.CONNECTED


@dataclass(frozen=True)
class ContainerInfo:
    """A running container and what discovery needs from its inspect."""

    ref: ContainerRef
    main_pid: int
    command: tuple[str, ...]
    environment: Mapping[str, str]
    labels: Mapping[str, str]
    started_at: str
    # How its processes are reached: /proc of this host, or the engine's API.
    access: AccessKind
    inspect: Mapping[str, Any] = field(repr=False, default_factory=dict)
    # The name of the engine it runs on (see access/endpoints.py).
    host: str = "local"


def container_info(
    inspect: Mapping[str, Any], force_api: bool = False, host: str = "local"
) -> ContainerInfo:
    """Build a ContainerInfo from ``docker inspect`` output."""
    config = inspect.get("Config") or {}
    state = inspect.get("State") or {}
    container_id = str(inspect.get("Id", ""))
    main_pid = int(state.get("Pid") or 0)
    command = tuple([str(inspect.get("Path", ""))] + [str(a) for a in inspect.get("Args") or []])
    labels = dict(config.get("Labels") or {})
    ref = ContainerRef(
        id=container_id,
        name=str(inspect.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        networking=networking_of(inspect),
        compose=compose_of(labels),
    )
    return ContainerInfo(
        ref=ref,
        main_pid=main_pid,
        command=tuple(word for word in command if word),
        environment=parse_environ_list(config.get("Env")),
        labels=labels,
        started_at=str(state.get("StartedAt", "")),
        access=container_access_kind(container_id, main_pid, api_only=force_api),
        inspect=inspect,
        host=host,
    )


def engine_identity(api: EngineReadApi) -> str:
    """What tells one engine from another: its ID, name and data root (two
    daemons of one machine may share an ID, never a data root)."""
    info = api.info()
    parts = (str(info.get("ID") or ""), str(info.get("Name") or ""),
             str(info.get("DockerRootDir") or ""))  # fmt: skip
    return " ".join(parts) if any(parts) else ""


_ID = re.compile(r"^[0-9a-f]{3,64}$")
_INSPECT_THREADS = 6


class ContainerWatcher:
    """Keeps the set of running containers current in a background thread.

    With ``lite`` (a local unix socket), the list and the events are read
    with the standard library and the docker-py client (``connector``) is
    made the first time :attr:`client` is asked for, off the first frame's
    path; otherwise the docker-py client does everything.
    """

    def __init__(
        self,
        force_api: bool = False,
        on_change: Callable[[], None] | None = None,
        connector: Callable[[], Any] = connect,
        *,
        name: str = "local",
        address: str | None = None,
        lite: Callable[[], LiteEngineApi] | None = None,
        client_delay_s: float = 0.0,
    ) -> None:
        self._force_api = force_api
        self.name = name
        self._address = address or daemon_host()
        self._engine_id = ""
        self._on_change = on_change
        self._connector = connector
        self._lock = threading.Lock()
        self._containers: dict[str, ContainerInfo] = {}
        self._lite = lite
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._client_failed_at = 0.0
        self._client_maker: threading.Thread | None = None
        self._client_delay_s = client_delay_s
        self._api: EngineReadApi | None = None
        self._status = DaemonStatus(
            DaemonState.UNREACHABLE, "not connected yet", time.time(), self._address, name
        )
        self._generation = 0
        self._stop = threading.Event()
        self._connected_once = threading.Event()
        self._thread: threading.Thread | None = None
        self._events_stream: Any = None

    # -- public, thread-safe ------------------------------------------------

    def start(self, wait_s: float = 3.0) -> DaemonStatus:
        """Connect (waiting up to ``wait_s``) and keep watching in the background."""
        self._thread = threading.Thread(target=self._run, name="gtui-docker-events", daemon=True)
        self._thread.start()
        self._connected_once.wait(wait_s)
        return self.status()

    def stop(self) -> None:
        self._stop.set()
        stream = self._events_stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._drop_client()

    def status(self) -> DaemonStatus:
        with self._lock:
            return self._status

    @property
    def client(self) -> Any:
        """The shared DockerClient (None while disconnected)."""
        client = self._client
        if client is not None or self._lite is None:
            return client
        with self._client_lock:
            if (
                self._client is None
                and self._api is not None
                and not self._stop.is_set()
                and time.monotonic() - self._client_failed_at >= _CLIENT_RETRY_S
            ):
                try:
                    self._client = self._connector()
                except Exception:  # EngineUnreachable: the watcher's own calls say more
                    self._client_failed_at = time.monotonic()
            return self._client

    def client_soon(self) -> Any:
        """The shared DockerClient if it is there; else None, and (on the
        local socket) it is made in the background ``client_delay_s`` later,
        for callers on the sampling path (the log followers) that must not
        wait for docker-py to load (nor, in the dashboard, load it beside
        the first frame)."""
        client = self._client
        if client is not None or self._lite is None or self._api is None:
            return client
        with self._client_lock:
            if self._client_maker is None or not self._client_maker.is_alive():
                self._client_maker = threading.Thread(
                    target=self._make_client_later, name="gtui-docker-client", daemon=True
                )
                self._client_maker.start()
        return None

    def _make_client_later(self) -> None:
        if not self._stop.wait(self._client_delay_s):
            _ = self.client

    def _drop_client(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    @property
    def generation(self) -> int:
        """Increments whenever the container set changes."""
        with self._lock:
            return self._generation

    def containers(self) -> dict[str, ContainerInfo]:
        """Running containers by full id (a copy)."""
        with self._lock:
            return dict(self._containers)

    def find(self, name_or_id: str) -> ContainerInfo | None:
        """A running container by exact name, full id or unique id prefix."""
        with self._lock:
            containers = list(self._containers.values())
        for info in containers:
            if info.ref.name == name_or_id or info.ref.id == name_or_id:
                return info
        if _ID.match(name_or_id):
            matches = [info for info in containers if info.ref.id.startswith(name_or_id)]
            if len(matches) == 1:
                return matches[0]
        return None

    def find_service(self, project: str, service: str) -> list[ContainerInfo]:
        """The running replicas of Compose service ``project/service``, by number."""
        with self._lock:
            containers = list(self._containers.values())
        found = [
            info
            for info in containers
            if info.ref.compose is not None
            and (info.ref.compose.project, info.ref.compose.service) == (project, service)
        ]
        return sorted(found, key=lambda info: (info.ref.compose.number or 0, info.ref.name))  # type: ignore[union-attr]

    def describe_missing(self, name_or_id: str) -> str:
        """Why ``name_or_id`` is not a running container, in one line."""
        api = self._api
        if api is None:
            return f"no running container {name_or_id!r} (Docker unreachable)"
        try:
            inspect = api.inspect_container(name_or_id)
        except Exception:
            return f"no container named {name_or_id!r}"
        state = (inspect.get("State") or {}).get("Status", "unknown")
        return f"container {name_or_id!r} is not running (status: {state})"

    # -- background thread ----------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                api = self._open()
            except Exception as error:  # DockerUnavailable, EngineUnreachable: one line
                self._set_status(DaemonState.UNREACHABLE, str(error) or type(error).__name__)
                self._connected_once.set()
                delay = _RECONNECT_DELAYS_S[min(attempt, len(_RECONNECT_DELAYS_S) - 1)]
                attempt += 1
                self._stop.wait(delay)
                continue
            attempt = 0
            try:
                since = time.time()
                self._engine_id = engine_identity(api)
                self._relist(api)
                self._api = api
                self._set_status(DaemonState.CONNECTED, "connected")
                self._connected_once.set()
                self._follow_events(api, since)
            except Exception as error:
                if self._stop.is_set():
                    return
                self._set_status(
                    DaemonState.UNREACHABLE, f"lost Docker daemon: {unavailable_reason(error)}"
                )
            finally:
                self._api = None
                self._drop_client()
            self._stop.wait(_RECONNECT_DELAYS_S[0])

    def _open(self) -> Any:
        """The read API of a connection that answered: the light one for a
        local socket, else the docker-py client's (kept as :attr:`client`)."""
        if self._lite is not None:
            from gunicorn_tui.access.engine_lite import LiteEngineError

            lite = self._lite()
            try:
                lite.check()
            except (OSError, LiteEngineError) as error:
                # The same one line the docker-py connector gives for this socket.
                if isinstance(error, FileNotFoundError | ConnectionRefusedError):
                    raise DockerUnavailable(
                        f"Docker daemon not reachable at {self._address}"
                    ) from error
                reason = (
                    error.strerror if isinstance(error, OSError) and error.strerror else str(error)
                )
                raise DockerUnavailable(f"{self._address}: {reason}") from error
            return lite
        client = self._connector()
        with self._client_lock:
            self._client = client
        return client.api

    def _set_status(self, state: DaemonState, message: str) -> None:
        with self._lock:
            if self._status.state is not state or self._status.message != message:
                self._status = DaemonStatus(
                    state, message, time.time(), self._address, self.name, self._engine_id
                )
                self._generation += 1
        if self._on_change is not None:
            self._on_change()

    def _relist(self, api: Any) -> None:
        found: dict[str, ContainerInfo] = {}
        summaries = api.containers(filters={"status": "running"})

        def inspect_one(summary: Mapping[str, Any]) -> Any:
            try:
                return api.inspect_container(summary["Id"])
            except Exception:
                return None  # gone between list and inspect

        # The daemon answers inspects side by side: ten containers take about
        # the time of two asked one after the other (gtui ls, first frame).
        if len(summaries) > 1:
            with ThreadPoolExecutor(
                max_workers=min(_INSPECT_THREADS, len(summaries)),
                thread_name_prefix="gtui-inspect",
            ) as pool:
                inspects = list(pool.map(inspect_one, summaries))
        else:
            inspects = [inspect_one(summary) for summary in summaries]
        for inspect in inspects:
            if inspect is not None and (inspect.get("State") or {}).get("Running"):
                found[inspect["Id"]] = container_info(inspect, self._force_api, self.name)
        with self._lock:
            self._containers = found
            self._generation += 1
        if self._on_change is not None:
            self._on_change()

    def _follow_events(self, api: Any, since: float) -> None:
        if self._lite is not None:
            stream = api.events(int(since), {"type": "container"})
        else:
            stream = api.events(since=int(since), decode=True, filters={"type": "container"})
        self._events_stream = stream
        if self._stop.is_set():  # stop() ran before the stream was there to close
            stream.close()
            return
        try:
            for event in stream:
                if self._stop.is_set():
                    return
                self._apply_event(api, event)
        finally:
            self._events_stream = None
        if not self._stop.is_set():
            raise DockerUnavailable("events stream ended")

    def _apply_event(self, api: EngineReadApi, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        if not container_id:
            return
        if action in ("start", "rename", "unpause", "update", "restart"):
            try:
                inspect = api.inspect_container(container_id)
            except Exception:
                return
            running = (inspect.get("State") or {}).get("Running")
            with self._lock:
                if running:
                    self._containers[container_id] = container_info(
                        inspect, self._force_api, self.name
                    )
                else:
                    self._containers.pop(container_id, None)
                self._generation += 1
        elif action in ("die", "stop", "kill", "destroy", "oom"):
            if action in ("kill", "oom"):
                return  # followed by die; nothing to do yet
            with self._lock:
                self._containers.pop(container_id, None)
                self._generation += 1
        else:
            return
        if self._on_change is not None:
            self._on_change()
