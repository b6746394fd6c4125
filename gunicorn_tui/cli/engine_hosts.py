"""The engines of a monitor as the control engine reaches them: an action
always goes to the engine its instance came from."""

from __future__ import annotations

from collections.abc import Callable

from gunicorn_tui.access.endpoints import LOCAL_NAME
from gunicorn_tui.control.engine import HostEngine
from gunicorn_tui.control.remote_host import RemoteGtui, RemoteGtuiReach
from gunicorn_tui.discovery.docker_engine import ContainerWatcher
from gunicorn_tui.monitor.monitor import Monitor


def first_host(monitor: Monitor) -> str:
    """The name of the monitor's first engine ("local" without Docker)."""
    watcher = monitor.watcher
    return watcher.name if watcher is not None else LOCAL_NAME


def first_api_only(monitor: Monitor) -> bool:
    """Whether the first engine is reached over the network (its pids are not ours)."""
    connector = monitor.connector_for(first_host(monitor))
    return connector is not None and not connector.endpoint.on_this_host


def first_address(monitor: Monitor) -> str | None:
    """The URL of the monitor's first engine when given as an endpoint (the
    journal of an action records it, for ``gtui recover -H``)."""
    connector = monitor.connector_for(first_host(monitor))
    return connector.endpoint.url if connector is not None else None


def _client_of(watcher: ContainerWatcher) -> Callable[[], object]:
    def client() -> object:
        return watcher.client

    return client


def remote_gtuis(monitor: Monitor) -> dict[str, RemoteGtuiReach]:
    """The gtui of each ``ssh://`` host, while its agent streams (a gtui of
    our schema there): it acts on that host's masters outside containers."""
    from gunicorn_tui.monitor.agent_link import AgentLink, AgentState, remote_command

    def reach_of(link: AgentLink) -> RemoteGtuiReach:
        remote = RemoteGtui(link.host, link.session, remote_command())

        def reach() -> RemoteGtui | str:
            return remote if link.state is AgentState.STREAMING else link.reason

        return reach

    return {host: reach_of(link) for host, link in monitor.agents.items()}


def other_hosts(monitor: Monitor) -> dict[str, HostEngine]:
    """Every engine but the first, by name."""
    first = monitor.watcher
    hosts: dict[str, HostEngine] = {}
    for name, watcher in monitor.watchers.items():
        if watcher is first:
            continue
        connector = monitor.connector_for(name)
        endpoint = connector.endpoint if connector is not None else None
        hosts[name] = HostEngine(
            connect=_client_of(watcher),
            address=endpoint.url if endpoint is not None else name,
            api_only=endpoint is None or not endpoint.on_this_host,
        )
    return hosts
