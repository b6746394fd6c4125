"""The kinds of target gtui reaches, and how it reaches each."""

from __future__ import annotations

from enum import StrEnum


class AccessKind(StrEnum):
    """How a Gunicorn master is reached.

    ``host``: a master on this host outside any container: /proc, pidfds,
    its files read and written with its own file identity.
    ``local container``: a container whose engine runs on this host: /proc
    and pidfds for its processes, its files resolved inside its root
    (openat2), the engine's API for its lifecycle.
    ``api container``: a container reached through the engine's API only
    (a remote daemon, Docker Desktop): pids are not this host's; files go
    through the archive API, signals through ``docker kill`` or ``exec``.
    """

    HOST = "host"
    LOCAL_CONTAINER = "local container"
    API_CONTAINER = "api container"

    @property
    def in_container(self) -> bool:
        return self is not AccessKind.HOST

    @property
    def has_local_pids(self) -> bool:
        """Its pids are this host's: /proc can be read and pidfds opened."""
        return self is not AccessKind.API_CONTAINER
