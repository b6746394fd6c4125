"""How this host reaches a Gunicorn server: the URL for load, A/B, sweeps and
readiness probes, and how it was found.

- A host process, or a container on the host network: its bind address (a
  wildcard ``0.0.0.0`` is reached on ``127.0.0.1``, ``::`` on ``::1``).
- A container on a bridge or user network: the host port the engine
  publishes for the bound container port. A publish on ``0.0.0.0`` or ``::``
  is reached on loopback; a publish on another host address only is refused,
  since gtui sends load only to loopback unless told otherwise (``--url``).
- Anything else (no publish, a Unix socket inside a container, no network)
  is refused with the reason and a pointer to ``--url``.

Never a container's own address: that only works from some hosts, and
traffic must stay on loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gunicorn_tui.model.instances import ContainerNetworking, InstanceSample, Source

# Gunicorn's own default when a bind has no port.
GUNICORN_DEFAULT_PORT = 8000
URL_HINT = "give the URL with --url (e.g. --url http://127.0.0.1:PORT)"


class ReachHow(StrEnum):
    """How the URL was found."""

    BIND = "bind"
    PUBLISHED_PORT = "published port"
    UNIX_SOCKET = "unix socket"
    REFUSED = "refused"


@dataclass(frozen=True)
class Reach:
    """Where this host sends requests to a server, or why it cannot.

    ``url`` is a base URL without a trailing slash (None when refused or for
    a Unix socket, whose requests go through ``unix_socket_path``).
    ``stable`` is False when the engine picked the host port: gtui's own
    re-create keeps it, but a re-create by anything else (``compose up``)
    moves the server to another port.
    """

    how: ReachHow
    url: str | None
    detail: str
    unix_socket_path: str | None = None
    hint: str | None = None
    stable: bool = True

    @property
    def reachable(self) -> bool:
        return self.how is not ReachHow.REFUSED

    @property
    def on_loopback(self) -> bool:
        """Whether the URL's host is this machine's loopback."""
        if self.url is None:
            return False
        host = self.url.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
        return _is_loopback(host)

    @property
    def label(self) -> str:
        """One line for headers and messages."""
        if self.how is ReachHow.REFUSED:
            return f"not reachable: {self.detail}"
        where = self.url if self.url is not None else f"unix:{self.unix_socket_path}"
        return f"{where} ({self.detail})"

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "how": self.how.value,
            "detail": self.detail,
            "unix_socket": self.unix_socket_path,
            "hint": self.hint,
            "stable_across_recreate": self.stable,
        }


class BindError(ValueError):
    """A bind address that cannot be read."""


def split_tcp_bind(bind: str) -> tuple[str, int]:
    """``(host, port)`` of a Gunicorn TCP bind; the host as written (no brackets),
    ``""`` for none. Raises :class:`BindError`."""
    address = bind.strip().removeprefix("tcp://")
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep:
            raise BindError(f"bind: unbalanced brackets in {bind!r}")
        port_text = rest.removeprefix(":")
    elif address.count(":") > 1:
        raise BindError(f"bind: an IPv6 address must be in brackets: {bind!r}")
    else:
        host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
        if not port_text and host.isdigit():
            host, port_text = "", host  # Gunicorn reads a bare number as a port.
    try:
        port = int(port_text) if port_text else GUNICORN_DEFAULT_PORT
    except ValueError:
        raise BindError(f"bind: the port is not a number in {bind!r}") from None
    if not 0 < port < 65536:
        raise BindError(f"bind: port {port} is out of range in {bind!r}")
    return host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_side(host: str) -> str:
    """Where this host connects for a server listening on ``host``."""
    if host in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _loopback_for_publish(host_ip: str) -> str | None:
    """The loopback address that reaches a port published on ``host_ip``, or None."""
    if host_ip in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host_ip == "::":
        return "::1"
    return host_ip if _is_loopback(host_ip) else None


def url_for(host: str, port: int, scheme: str = "http") -> str:
    """``scheme://host:port`` with an IPv6 host in brackets."""
    host_part = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host_part}:{port}"


def binds_of(bind: str | Sequence[str] | None) -> list[str]:
    """A bind setting as a list of addresses (comma-separated text split)."""
    if bind is None:
        return []
    items = [bind] if isinstance(bind, str) else [str(item) for item in bind]
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _refused(detail: str) -> Reach:
    return Reach(ReachHow.REFUSED, None, detail, hint=URL_HINT)


def resolve_reach(
    bind: str | Sequence[str] | None,
    *,
    in_container: bool,
    networking: ContainerNetworking | None,
    scheme: str = "http",
) -> Reach:
    """How this host reaches a server bound to ``bind``; see the module docstring.

    ``networking`` None for a container means the engine did not say (a
    recording, a container gone since): the bind is then taken as is.
    """
    binds = binds_of(bind)
    if not binds:
        return _refused("its bind address is not known (command line hidden, no control socket)")
    tcp = [b for b in binds if not b.startswith(("unix:", "fd://"))]
    unix = [b for b in binds if b.startswith("unix:")]
    bridged = in_container and networking is not None and not networking.host_network
    if not tcp:
        if unix and not in_container:
            path = unix[0].removeprefix("unix://").removeprefix("unix:")
            if path:
                return Reach(
                    ReachHow.UNIX_SOCKET,
                    None,
                    f"bind {unix[0]}",
                    unix_socket_path=path,
                )
        if unix:
            return _refused(
                f"it binds a Unix socket inside the container ({unix[0]}); "
                "this host cannot connect to it"
            )
        return _refused(f"only file-descriptor binds ({', '.join(binds)})")
    if not bridged:
        try:
            host, port = split_tcp_bind(tcp[0])
        except BindError as error:
            return _refused(str(error))
        where = "on the host network" if in_container else "on this host"
        if in_container and networking is None:
            where = "container networking unknown, taken as is"
        return Reach(
            ReachHow.BIND, url_for(_host_side(host), port, scheme), f"bind {tcp[0]} {where}"
        )
    assert networking is not None
    mode = networking.mode
    if mode == "none":
        return _refused("the container has no network (--network none)")
    if mode.startswith("container:"):
        return _refused(
            f"the container shares another container's network ({mode[:22]}); "
            "the ports are published there"
        )
    reasons: list[str] = []
    for address in tcp:
        try:
            host, port = split_tcp_bind(address)
        except BindError as error:
            reasons.append(str(error))
            continue
        if _is_loopback(host):
            reasons.append(
                f"bind {address} listens on the container's own loopback, which no published "
                f"port reaches (bind 0.0.0.0:{port} in the container)"
            )
            continue
        entries = [
            p for p in networking.published if p.container_port == port and p.protocol == "tcp"
        ]
        if not entries:
            reasons.append(
                f"container port {port} is not published "
                f"(docker run -p 127.0.0.1:HOST_PORT:{port}, or ports: in Compose)"
            )
            continue
        usable = [(loop, p) for p in entries if (loop := _loopback_for_publish(p.host_ip))]
        if not usable:
            ips = ", ".join(sorted({f"{p.host_ip}:{p.host_port}" for p in entries}))
            reasons.append(
                f"container port {port} is published on {ips} only, not on loopback; "
                "gtui sends traffic to 127.0.0.1 or ::1 unless given a URL"
            )
            continue
        # IPv4 first, then the lowest host port: the same choice every time.
        usable.sort(key=lambda pair: (":" in pair[0], pair[1].host_port))
        loop, chosen = usable[0]
        others = sorted({p.host_port for _, p in usable if p.host_port != chosen.host_port})
        shown_ip = chosen.host_ip or "0.0.0.0"
        detail = f"published {shown_ip}:{chosen.host_port} -> container port {port}"
        if others:
            detail += f" (also published on {', '.join(map(str, others))}; --url picks another)"
        return Reach(
            ReachHow.PUBLISHED_PORT,
            url_for(loop, chosen.host_port, scheme),
            detail,
            stable=chosen.fixed,
        )
    return _refused("; ".join(reasons))


def reach_of(sample: InstanceSample) -> Reach:
    """:func:`resolve_reach` for one sampled instance."""
    bind = sample.config.value("bind")
    binds: str | list[str] | None
    if isinstance(bind, str):
        binds = bind
    elif isinstance(bind, list | tuple):
        binds = [str(item) for item in bind]
    else:
        binds = None
    container = sample.container
    return resolve_reach(
        binds,
        in_container=sample.source is Source.DOCKER and container is not None,
        networking=container.networking if container is not None else None,
    )
