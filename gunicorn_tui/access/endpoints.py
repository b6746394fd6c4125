"""Which Docker engines to talk to, by the Docker CLI's rules.

``-H/--host URL`` and ``--context NAME`` (each repeatable) name engines
explicitly; without them, as ``docker`` does: ``DOCKER_HOST``, then
``DOCKER_CONTEXT``, then the ``currentContext`` of ``config.json`` in
``$DOCKER_CONFIG`` (else ``~/.docker``), then the local socket. A context is
read from ``contexts/meta/<sha256 of its name>/meta.json`` and its TLS
files from ``contexts/tls/<same>/docker/``. ``DOCKER_TLS_VERIFY`` and
``DOCKER_CERT_PATH`` apply to a ``tcp://`` host given by ``-H`` or
``DOCKER_HOST``, as they do for ``docker``.

Nothing here connects: :mod:`gunicorn_tui.access.engine_connect` does.
Every error is one line (:class:`EndpointError`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_URL = f"unix://{DEFAULT_SOCKET}"
# The name of the engine reached by the default socket of this machine.
LOCAL_NAME = "local"
_MAX_META_BYTES = 1 << 20


class EndpointError(ValueError):
    """An engine that cannot even be named: a bad URL, an unknown context."""


class Scheme(StrEnum):
    UNIX = "unix"
    TCP = "tcp"
    SSH = "ssh"


@dataclass(frozen=True)
class TlsFiles:
    """Client TLS for a ``tcp://`` engine: the CA to trust (pinned: no
    ``REQUESTS_CA_BUNDLE`` or system store decides) and a client key pair."""

    verify: bool
    ca_path: str | None
    cert_path: str | None
    key_path: str | None


@dataclass(frozen=True)
class EngineEndpoint:
    """One engine to watch: its display name, its URL, and how it was named."""

    name: str
    url: str
    origin: str  # "-H", "--context X", "DOCKER_HOST", "context X", "default"
    tls: TlsFiles | None = None

    @property
    def scheme(self) -> Scheme:
        return Scheme(self.url.split("://", 1)[0])

    @property
    def on_this_host(self) -> bool:
        """A unix socket: the engine runs here, its pids may be ours."""
        return self.scheme is Scheme.UNIX

    @property
    def ssh_destination(self) -> tuple[str | None, str, int | None]:
        """``(user, host, port)`` of an ``ssh://`` URL."""
        parts = urlsplit(self.url)
        return parts.username, parts.hostname or "", parts.port

    def describe(self) -> str:
        return f"{self.name} ({self.url})"


def _config_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("DOCKER_CONFIG")
    if configured:
        return Path(configured)
    return Path(environ.get("HOME") or Path.home()) / ".docker"


def _read_json(path: Path) -> Mapping[str, object] | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_META_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise EndpointError(f"{path}: {error.strerror or error}") from error
    if len(data) > _MAX_META_BYTES:
        raise EndpointError(f"{path}: larger than 1 MiB")
    try:
        value = json.loads(data)
    except ValueError as error:
        raise EndpointError(f"{path}: not JSON ({error})") from error
    return value if isinstance(value, dict) else None


def normalise_url(text: str) -> str:
    """A Docker host URL checked and completed (``tcp://h`` gets its port,
    a bare path is a unix socket); EndpointError when it means nothing."""
    text = text.strip()
    if not text:
        raise EndpointError("empty Docker host")
    if text.startswith("/"):
        text = f"unix://{text}"
    if "://" not in text:
        raise EndpointError(
            f"Docker host {text!r}: expected unix:///PATH, tcp://HOST[:PORT] or ssh://[USER@]HOST"
        )
    scheme, rest = text.split("://", 1)
    if scheme == "unix":
        if not rest.startswith("/"):
            raise EndpointError(f"Docker host {text!r}: a unix socket needs an absolute path")
        return f"unix://{rest}"
    if scheme in ("tcp", "http", "https"):
        parts = urlsplit(f"tcp://{rest}")
        try:
            port = parts.port
        except ValueError as error:
            raise EndpointError(f"Docker host {text!r}: bad port") from error
        if not parts.hostname:
            raise EndpointError(f"Docker host {text!r}: no host name")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return f"tcp://{host}:{port or 2376 if scheme == 'https' else port or 2375}"
    if scheme == "ssh":
        parts = urlsplit(text)
        try:
            parts.port  # noqa: B018 (validates it)
        except ValueError as error:
            raise EndpointError(f"Docker host {text!r}: bad port") from error
        if not parts.hostname or parts.path not in ("", "/"):
            raise EndpointError(f"Docker host {text!r}: expected ssh://[USER@]HOST[:PORT]")
        if parts.hostname.startswith("-") or (parts.username or "").startswith("-"):
            raise EndpointError(f"Docker host {text!r}: a host name cannot start with '-'")
        return text.rstrip("/")
    raise EndpointError(f"Docker host {text!r}: unsupported scheme {scheme!r} (unix, tcp or ssh)")


def _name_of_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if scheme == "unix":
        return LOCAL_NAME if rest == DEFAULT_SOCKET else rest
    parts = urlsplit(url)
    host = parts.hostname or rest
    if scheme == "ssh":
        return host if parts.port in (None, 22) else f"{host}:{parts.port}"
    return f"{host}:{parts.port}"


def _env_tls(environ: Mapping[str, str], url: str) -> TlsFiles | None:
    if not url.startswith("tcp://"):
        return None
    verify = bool(environ.get("DOCKER_TLS_VERIFY"))
    if not verify and not environ.get("DOCKER_TLS"):
        return None
    cert_dir = Path(environ.get("DOCKER_CERT_PATH") or _config_dir(environ))
    return _tls_in(cert_dir, verify)


def _tls_in(directory: Path, verify: bool) -> TlsFiles:
    def present(name: str) -> str | None:
        path = directory / name
        return str(path) if path.is_file() else None

    tls = TlsFiles(verify, present("ca.pem"), present("cert.pem"), present("key.pem"))
    if verify and tls.ca_path is None:
        raise EndpointError(f"TLS verification asked for but there is no {directory}/ca.pem")
    if (tls.cert_path is None) != (tls.key_path is None):
        raise EndpointError(f"{directory}: cert.pem and key.pem go together")
    return tls


def context_endpoint(name: str, environ: Mapping[str, str]) -> EngineEndpoint:
    """The engine a docker context names (``default``: DOCKER_HOST or the local socket)."""
    if name == "default":
        url = normalise_url(environ.get("DOCKER_HOST") or DEFAULT_URL)
        return EngineEndpoint(_name_of_url(url), url, "context default", _env_tls(environ, url))
    digest = hashlib.sha256(name.encode()).hexdigest()
    base = _config_dir(environ) / "contexts"
    meta = _read_json(base / "meta" / digest / "meta.json")
    if meta is None:
        raise EndpointError(f"no docker context named {name!r} (docker context ls)")
    endpoints = meta.get("Endpoints")
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    if not isinstance(host, str):
        raise EndpointError(f"docker context {name!r} has no Docker endpoint")
    url = normalise_url(host)
    tls = None
    if url.startswith("tcp://"):
        skip = bool(isinstance(docker, dict) and docker.get("SkipTLSVerify"))
        tls_dir = base / "tls" / digest / "docker"
        if tls_dir.is_dir():
            tls = _tls_in(tls_dir, verify=not skip)
    return EngineEndpoint(name, url, f"context {name}", tls)


def current_context(environ: Mapping[str, str]) -> str:
    """The context ``docker`` would use with no flags."""
    if environ.get("DOCKER_HOST"):
        return "default"
    if environ.get("DOCKER_CONTEXT"):
        return environ["DOCKER_CONTEXT"]
    config = _read_json(_config_dir(environ) / "config.json") or {}
    current = config.get("currentContext")
    return current if isinstance(current, str) and current else "default"


def resolve_endpoints(
    hosts: Sequence[str] = (),
    contexts: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[EngineEndpoint, ...]:
    """The engines to watch, in the order named; a name used twice gets ``#2``.

    With neither ``hosts`` nor ``contexts``: the one engine ``docker`` would use.
    """
    env = os.environ if environ is None else environ
    found: list[EngineEndpoint] = []
    for text in hosts:
        url = normalise_url(text)
        found.append(EngineEndpoint(_name_of_url(url), url, "-H", _env_tls(env, url)))
    for name in contexts:
        if not name.strip():
            raise EndpointError("empty --context name")
        endpoint = context_endpoint(name.strip(), env)
        found.append(EngineEndpoint(endpoint.name, endpoint.url, f"--context {name}", endpoint.tls))
    if not found:
        name = current_context(env)
        endpoint = context_endpoint(name, env)
        origin = "DOCKER_HOST" if env.get("DOCKER_HOST") else endpoint.origin
        found.append(EngineEndpoint(endpoint.name, endpoint.url, origin, endpoint.tls))
    named: list[EngineEndpoint] = []
    seen: dict[str, int] = {}
    for endpoint in found:
        if any(e.url == endpoint.url for e in named):
            continue  # the same URL twice: one engine
        count = seen.get(endpoint.name, 0) + 1
        seen[endpoint.name] = count
        if count > 1:
            endpoint = EngineEndpoint(
                f"{endpoint.name}#{count}", endpoint.url, endpoint.origin, endpoint.tls
            )
        named.append(endpoint)
    return tuple(named)


def is_default_setup(endpoints: Sequence[EngineEndpoint]) -> bool:
    """Only this machine's default socket: gtui behaves as it always did."""
    return len(endpoints) == 1 and endpoints[0].url == DEFAULT_URL
