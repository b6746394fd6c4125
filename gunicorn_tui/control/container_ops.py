"""Docker operations of a re-create, each one call with a one-line error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn_tui.control.container_spec import CreateSpec
from gunicorn_tui.control.master_access import docker_error

LOG_TAIL_LINES = 40


def inspect_or_none(client: Any, name_or_id: str) -> Mapping[str, Any] | None:
    """The container's inspect, or None when no such container exists.

    Daemon errors other than "not found" propagate as StepError.
    """
    import docker.errors

    try:
        inspect: Mapping[str, Any] = client.api.inspect_container(name_or_id)
    except docker.errors.NotFound:
        return None
    except Exception as error:
        raise docker_error(error, f"inspect {name_or_id}") from error
    return inspect


def container_name(inspect: Mapping[str, Any]) -> str:
    return str(inspect.get("Name", "")).lstrip("/")


def is_running(inspect: Mapping[str, Any]) -> bool:
    return bool((inspect.get("State") or {}).get("Running"))


def create(client: Any, name: str, spec: CreateSpec) -> str:
    """Create the container (not started) and connect its extra networks; its id."""
    try:
        created = client.api.create_container_from_config(dict(spec.body), name=name)
    except Exception as error:
        raise docker_error(error, f"create {name}") from error
    container_id = str(created["Id"])
    for network, endpoint in spec.extra_networks:
        ipam = endpoint.get("IPAMConfig") or {}
        try:
            client.api.connect_container_to_network(
                container_id,
                network,
                aliases=endpoint.get("Aliases"),
                links=endpoint.get("Links"),
                ipv4_address=ipam.get("IPv4Address"),
                ipv6_address=ipam.get("IPv6Address"),
                link_local_ips=ipam.get("LinkLocalIPs"),
                driver_opt=endpoint.get("DriverOpts"),
            )
        except Exception as error:
            remove(client, container_id, force=True)
            raise docker_error(error, f"connect {name} to network {network}") from error
    return container_id


def stop(client: Any, container_id: str, timeout_s: int, what: str) -> None:
    try:
        client.api.stop(container_id, timeout=timeout_s)
    except Exception as error:
        raise docker_error(error, f"stop {what}") from error


def rename(client: Any, container_id: str, new_name: str, what: str) -> None:
    try:
        client.api.rename(container_id, new_name)
    except Exception as error:
        raise docker_error(error, f"rename {what} to {new_name}") from error


def start(client: Any, container_id: str, what: str) -> None:
    try:
        client.api.start(container_id)
    except Exception as error:
        raise docker_error(error, f"start {what}") from error


def remove(client: Any, container_id: str, force: bool = False) -> None:
    """Remove a container, never its volumes (a replacement may mount them)."""
    try:
        client.api.remove_container(container_id, v=False, force=force)
    except Exception as error:
        raise docker_error(error, f"remove {container_id[:12]}") from error


def tail_logs(client: Any, container_id: str) -> str | None:
    """The last lines a container wrote (stdout and stderr), or None."""
    try:
        raw = client.api.logs(container_id, stdout=True, stderr=True, tail=LOG_TAIL_LINES)
    except Exception:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip() or None


def exit_reason(inspect: Mapping[str, Any]) -> str | None:
    """Why a container is not running ("exited with code 1"), or None if it runs."""
    state = inspect.get("State") or {}
    if state.get("Running"):
        return None
    status = state.get("Status", "not running")
    code = state.get("ExitCode")
    error = state.get("Error")
    text = f"container {container_name(inspect)} {status}"
    if code is not None and status in ("exited", "dead"):
        text += f" with code {code}"
    if error:
        text += f": {error}"
    return text
