"""Where a load run sends its requests: a base URL, or a Unix socket.

The URL comes, in order of precedence, from an explicit override (the
command line or the UI), the profile's ``base_url``, or the bind address of
the Gunicorn instance under test. A wildcard bind (``0.0.0.0``, ``[::]``) is
reached through loopback, since that is where this machine can reach it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gunicorn_tui.discovery.reach import Reach, ReachHow, reach_of
from gunicorn_tui.model.instances import InstanceSample

# Gunicorn's own default when a bind has no port.
_GUNICORN_DEFAULT_PORT = 8000


class TargetError(ValueError):
    """A base URL or bind address that cannot be used as a load target."""


@dataclass(frozen=True)
class LoadTarget:
    """The resolved target of a run.

    ``unix_socket_path`` is set when the server listens on a Unix socket; the
    requests then go through that socket and ``base_url`` only supplies the
    scheme, the Host header and a path prefix.

    ``more_base_urls``: further servers of one service (the replicas of a
    Compose service, each on its published port). The requests then go to
    ``base_url`` and each of these in turn, round-robin; every URL must
    have the same path (the requests are the same, only the origin differs).
    """

    base_url: str
    unix_socket_path: str | None = None
    more_base_urls: tuple[str, ...] = ()

    @property
    def base_urls(self) -> tuple[str, ...]:
        """Every URL the run sends to, in round-robin order."""
        return (self.base_url, *self.more_base_urls)

    @property
    def label(self) -> str:
        """What to show the user as the run's target."""
        if self.unix_socket_path is not None:
            return f"unix:{self.unix_socket_path}"
        if self.more_base_urls:
            return f"{', '.join(self.base_urls)} (round-robin)"
        return self.base_url


def round_robin_target(targets: Sequence[LoadTarget]) -> LoadTarget:
    """One target that spreads a run over ``targets`` (TCP URLs with the same
    path), or :class:`TargetError` saying why they cannot be combined."""
    if not targets:
        raise TargetError("no target to send load to")
    if len(targets) == 1:
        return targets[0]
    sockets = [t.label for t in targets if t.unix_socket_path is not None]
    if sockets:
        raise TargetError(
            f"{sockets[0]}: a Unix socket cannot be one of several replicas' targets "
            "(publish a TCP port, or give --url)"
        )
    urls = [url for t in targets for url in t.base_urls]
    paths = {urlsplit(url).path for url in urls}
    if len(paths) > 1:
        raise TargetError(f"the replicas' URLs differ in path: {', '.join(urls)}")
    if len(set(urls)) < len(urls):
        raise TargetError(f"two replicas are reached at the same URL: {', '.join(urls)}")
    return LoadTarget(base_url=urls[0], more_base_urls=tuple(urls[1:]))


def validate_base_url(url: str, *, field: str = "base_url") -> str:
    """Check that ``url`` is an absolute http(s) URL and return it without a
    trailing slash, or raise :class:`TargetError` naming ``field``."""
    if not isinstance(url, str) or not url.strip():
        raise TargetError(f"{field}: expected an http:// or https:// URL, got {url!r}")
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"{field}: not a valid URL ({exc}): {text!r}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetError(
            f"{field}: the scheme must be http or https, got {parts.scheme or 'none'!r} in {text!r}"
        )
    if not parts.hostname:
        raise TargetError(f"{field}: the URL has no host: {text!r}")
    if parts.query or parts.fragment:
        raise TargetError(
            f"{field}: a base URL takes no query or fragment (put them in the request "
            f"paths): {text!r}"
        )
    if port == 0:
        raise TargetError(f"{field}: port 0 cannot be connected to: {text!r}")
    return text.rstrip("/")


def target_from_bind(bind: str | Sequence[str], *, scheme: str = "http") -> LoadTarget:
    """The target for a Gunicorn ``bind`` setting (one address or a list).

    The first TCP address wins; a Unix socket is used only when there is no
    TCP address. ``fd://`` binds cannot be reached from outside and are refused.
    """
    binds = [bind] if isinstance(bind, str) else list(bind)
    binds = [b.strip() for b in binds if isinstance(b, str) and b.strip()]
    if not binds:
        raise TargetError("bind: the instance has no bind address to send load to")
    tcp = [b for b in binds if not b.startswith(("unix:", "fd://"))]
    if tcp:
        return LoadTarget(base_url=_url_for_tcp_bind(tcp[0], scheme))
    unix = [b for b in binds if b.startswith("unix:")]
    if unix:
        path = unix[0].removeprefix("unix://").removeprefix("unix:")
        if not path:
            raise TargetError(f"bind: a unix socket bind without a path: {unix[0]!r}")
        return LoadTarget(base_url=f"{scheme}://localhost", unix_socket_path=path)
    raise TargetError(
        f"bind: only file-descriptor binds ({', '.join(binds)}); there is no address to connect to"
    )


def _url_for_tcp_bind(bind: str, scheme: str) -> str:
    address = bind.removeprefix("tcp://")
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep:
            raise TargetError(f"bind: unbalanced brackets in {bind!r}")
        port_text = rest.removeprefix(":")
        host = "::1" if host in ("", "::") else host
        host_part = f"[{host}]"
    elif address.count(":") > 1:
        raise TargetError(f"bind: an IPv6 address must be in brackets: {bind!r}")
    else:
        host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
        if not port_text and host.isdigit():
            # Gunicorn reads a bare number as a port.
            host, port_text = "", host
        host = "127.0.0.1" if host in ("", "0.0.0.0", "*") else host
        host_part = host
    try:
        port = int(port_text) if port_text else _GUNICORN_DEFAULT_PORT
    except ValueError:
        raise TargetError(f"bind: the port is not a number in {bind!r}") from None
    if not 0 < port < 65536:
        raise TargetError(f"bind: port {port} is out of range in {bind!r}")
    return validate_base_url(f"{scheme}://{host_part}:{port}", field="bind")


def bind_of(sample: InstanceSample) -> str | list[str] | None:
    """The bind address(es) ``sample``'s configuration shows, if known."""
    bind = sample.config.value("bind")
    if isinstance(bind, str):
        return bind
    if isinstance(bind, list | tuple):
        return [str(item) for item in bind]
    return None


def target_from_reach(reach: Reach) -> LoadTarget:
    """The target :class:`Reach` found, or :class:`TargetError` with its reason."""
    if reach.how is ReachHow.REFUSED:
        raise TargetError(f"not reachable from this host: {reach.detail}; {reach.hint or ''}")
    if reach.unix_socket_path is not None:
        return LoadTarget(base_url="http://localhost", unix_socket_path=reach.unix_socket_path)
    assert reach.url is not None
    return LoadTarget(base_url=validate_base_url(reach.url, field="reach"))


def target_for_sample(
    sample: InstanceSample, *, override_url: str | None = None, profile_base_url: str | None = None
) -> LoadTarget:
    """:func:`resolve_target` for a sampled instance, reached as its
    networking says (see :mod:`gunicorn_tui.discovery.reach`)."""
    return resolve_target(
        override_url=override_url, profile_base_url=profile_base_url, reach=reach_of(sample)
    )


def resolve_target(
    *,
    override_url: str | None = None,
    profile_base_url: str | None = None,
    bind: str | Sequence[str] | None = None,
    reach: Reach | None = None,
) -> LoadTarget:
    """Pick the target: an explicit override, else the profile's base URL,
    else how the instance is reached (``reach``), else its bind. Raises
    :class:`TargetError` when none is given."""
    if override_url:
        return LoadTarget(base_url=validate_base_url(override_url, field="url"))
    if profile_base_url:
        return LoadTarget(base_url=validate_base_url(profile_base_url, field="run.base_url"))
    if reach is not None:
        return target_from_reach(reach)
    if bind:
        return target_from_bind(bind)
    raise TargetError(
        "no target: give a URL (--url), set run.base_url in the profile, "
        "or choose a Gunicorn instance"
    )
