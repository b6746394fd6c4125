"""Connecting to one engine named by an :class:`EngineEndpoint`.

``unix://`` is docker-py's own socket adapter; ``tcp://`` is HTTP, or HTTPS
with the endpoint's TLS files, the CA pinned on the session (requests would
otherwise let ``REQUESTS_CA_BUNDLE`` from the environment replace it);
``ssh://`` is :mod:`gunicorn_tui.access.ssh_transport`. Every connection is
checked to be a Docker engine (``/version`` with an ``ApiVersion``) before
it is used, and every failure is one line: :class:`EngineUnreachable`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gunicorn_tui.access.endpoints import DEFAULT_URL, EngineEndpoint, Scheme

# The SSH transport is imported only for ``ssh://`` engines (and to read an
# error), never on the local path.
if TYPE_CHECKING:
    from gunicorn_tui.access.engine_lite import LiteEngineApi
    from gunicorn_tui.access.ssh_transport import SshSession

API_TIMEOUT_S = 10.0
MAX_POOL_SIZE = 16
_SSH_BASE_URL = "http+docker://gtui-ssh"


class EngineUnreachable(Exception):
    """An engine that cannot be used; the message says which and why, in one line."""


def _first_line(error: BaseException) -> str:
    # The reason ssh gave is deeper than requests' wrappers.
    from gunicorn_tui.access.ssh_transport import SshFailed

    for linked in _chain(error):
        if isinstance(linked, SshFailed):
            return str(linked)
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


class EngineConnector:
    """Makes clients for one endpoint; holds its SSH connection between them.

    Called again after a connection is lost (the watcher reconnects with
    backoff); :meth:`close` ends the SSH connection.
    """

    def __init__(self, endpoint: EngineEndpoint, timeout_s: float = API_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._session: SshSession | None = None
        self._lock = threading.Lock()

    @property
    def ssh_session(self) -> SshSession | None:
        """The shared SSH connection of an ``ssh://`` endpoint (for a remote agent)."""
        if self.endpoint.scheme is not Scheme.SSH:
            return None
        with self._lock:
            if self._session is None:
                from gunicorn_tui.access.ssh_transport import SshSession

                user, host, port = self.endpoint.ssh_destination
                self._session = SshSession(user, host, port)
            return self._session

    def __call__(self) -> Any:
        """A docker.DockerClient that has answered as a Docker engine."""
        try:
            client = self._client()
        except Exception as error:
            raise EngineUnreachable(self._say(error)) from error
        try:
            version = client.api.version(api_version=False)
        except Exception as error:
            client.close()
            raise EngineUnreachable(self._say(error)) from error
        if not isinstance(version, dict) or not version.get("ApiVersion"):
            client.close()
            raise EngineUnreachable(
                f"{self.endpoint.url}: answers, but is not a Docker engine (no ApiVersion)"
            )
        client.api._version = _usable_version(str(version["ApiVersion"]))
        return client

    def _say(self, error: BaseException) -> str:
        """One line: which engine, and why it cannot be used."""
        if _absent(error):
            return f"Docker daemon not reachable at {self.endpoint.url}"
        reason = _describe(error)
        if reason.startswith("ssh "):
            return reason
        return f"{self.endpoint.url}: {reason}"

    def _client(self) -> Any:
        import docker

        endpoint = self.endpoint
        timeout = int(self.timeout_s)
        # A version is given so that the constructor asks nothing: the
        # version is asked for (and checked) above, on the right adapter.
        if endpoint.scheme is Scheme.UNIX:
            return docker.DockerClient(
                base_url=endpoint.url, version="1.24", timeout=timeout, max_pool_size=MAX_POOL_SIZE
            )
        if endpoint.scheme is Scheme.TCP:
            tls: Any = False
            url = endpoint.url
            if endpoint.tls is not None:
                files = endpoint.tls
                tls = docker.tls.TLSConfig(
                    client_cert=(
                        (files.cert_path, files.key_path)
                        if files.cert_path and files.key_path
                        else None
                    ),
                    ca_cert=files.ca_path,
                    verify=files.ca_path if files.verify and files.ca_path else files.verify,
                )
                url = url.replace("tcp://", "https://", 1)
            client = docker.DockerClient(
                base_url=url, version="1.24", timeout=timeout, tls=tls, max_pool_size=MAX_POOL_SIZE
            )
            # The CA is the endpoint's: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
            # from the environment must not replace it (nor proxies reach it).
            client.api.trust_env = False
            return client
        from gunicorn_tui.access.ssh_transport import SshAdapter

        session = self.ssh_session
        assert session is not None
        session.ensure()
        client = docker.DockerClient(
            base_url="tcp://127.0.0.1:9", version="1.24", timeout=timeout, max_pool_size=4
        )
        api = client.api
        api.trust_env = False
        api.mount(_SSH_BASE_URL, SshAdapter(session, self.timeout_s, MAX_POOL_SIZE))
        api.base_url = _SSH_BASE_URL
        return client

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()


def lite_api(url: str, timeout_s: float = API_TIMEOUT_S) -> Callable[[], LiteEngineApi] | None:
    """For a ``unix://`` engine, what makes its standard-library reader
    (:mod:`gunicorn_tui.access.engine_lite`); None for every other scheme."""
    if not url.startswith("unix://"):
        return None

    def make() -> LiteEngineApi:
        from gunicorn_tui.access.engine_lite import LiteEngineApi, LiteEngineError, socket_path

        path = socket_path(url)
        if path is None:
            raise LiteEngineError(f"not a socket path: {url}")
        return LiteEngineApi(path, timeout_s)

    return make


def default_lite_api() -> Callable[[], LiteEngineApi] | None:
    """:func:`lite_api` of the engine docker-py's ``from_env`` uses when no
    endpoint is named (``DOCKER_HOST``, else this machine's socket)."""
    return lite_api(os.environ.get("DOCKER_HOST") or DEFAULT_URL)


def _usable_version(server: str) -> str:
    """The API version to speak: the server's, capped at what docker-py knows."""
    from docker.constants import DEFAULT_DOCKER_API_VERSION
    from docker.utils import version_lt

    return server if version_lt(server, DEFAULT_DOCKER_API_VERSION) else DEFAULT_DOCKER_API_VERSION


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(found) < 20:
        current = pending.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return found


def _absent(error: BaseException) -> bool:
    """Nothing listens there (no socket file, connection refused)."""
    from gunicorn_tui.access.ssh_transport import SshFailed

    chain = _chain(error)
    if any(isinstance(e, SshFailed) for e in chain):
        return False
    return any(isinstance(e, FileNotFoundError | ConnectionRefusedError) for e in chain) or (
        "Connection refused" in str(error)
    )


def _describe(error: BaseException) -> str:
    import docker.errors
    import requests

    if isinstance(error, docker.errors.APIError) and not isinstance(error, docker.errors.NotFound):
        return f"answers, but is not a Docker engine ({_first_line(error)})"
    if isinstance(error, docker.errors.NotFound):
        return "answers, but is not a Docker engine (no /version)"
    if isinstance(error, ValueError | requests.exceptions.JSONDecodeError):
        return "answers, but is not a Docker engine (not JSON)"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS: {_first_line(error)}"
    if isinstance(error, requests.exceptions.Timeout | TimeoutError):
        return f"no answer in {API_TIMEOUT_S:.0f} s"
    return _first_line(error)
