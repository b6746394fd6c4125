"""A container's networking and Compose membership, read from its inspect.

Both come from the engine (Docker or Podman's Docker-compatible API) and are
plain data: nothing here talks to the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn_tui.model.instances import ComposeMembership, ContainerNetworking, PublishedPort

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
COMPOSE_CONFIG_FILES = "com.docker.compose.project.config_files"
COMPOSE_WORKING_DIR = "com.docker.compose.project.working_dir"


def networking_of(inspect: Mapping[str, Any]) -> ContainerNetworking | None:
    """The network mode and published ports in ``inspect``; None when the
    inspect does not say (an unknown container)."""
    host_config = inspect.get("HostConfig") or {}
    mode = host_config.get("NetworkMode")
    if not isinstance(mode, str) or not mode:
        return None
    settings = inspect.get("NetworkSettings") or {}
    ports = settings.get("Ports") or {}
    published: list[PublishedPort] = []
    fixed = _fixed_host_ports(host_config.get("PortBindings"))
    if isinstance(ports, Mapping):
        for key, bindings in ports.items():
            port_text, _, protocol = str(key).partition("/")
            if not port_text.isdigit() or not isinstance(bindings, list):
                continue
            for binding in bindings:
                if not isinstance(binding, Mapping):
                    continue
                host_port = str(binding.get("HostPort") or "")
                if not host_port.isdigit():
                    continue
                published.append(
                    PublishedPort(
                        container_port=int(port_text),
                        protocol=protocol or "tcp",
                        host_ip=str(binding.get("HostIp") or ""),
                        host_port=int(host_port),
                        fixed=(port_text, protocol or "tcp", int(host_port)) in fixed,
                    )
                )
    published.sort(key=lambda p: (p.container_port, p.protocol, p.host_port, p.host_ip))
    return ContainerNetworking(mode=mode, published=tuple(published))


def _fixed_host_ports(bindings: Any) -> set[tuple[str, str, int]]:
    fixed: set[tuple[str, str, int]] = set()
    if not isinstance(bindings, Mapping):
        return fixed
    for key, entries in bindings.items():
        port_text, _, protocol = str(key).partition("/")
        for entry in entries if isinstance(entries, list) else ():
            host_port = (
                str((entry or {}).get("HostPort") or "") if isinstance(entry, Mapping) else ""
            )
            if host_port.isdigit() and int(host_port) > 0:
                fixed.add((port_text, protocol or "tcp", int(host_port)))
    return fixed


def compose_of(labels: Mapping[str, str]) -> ComposeMembership | None:
    """The Compose project and service named by ``labels``, if any."""
    project = labels.get(COMPOSE_PROJECT)
    service = labels.get(COMPOSE_SERVICE)
    if not project or not service:
        return None
    number_text = labels.get(COMPOSE_NUMBER) or ""
    files = labels.get(COMPOSE_CONFIG_FILES) or ""
    return ComposeMembership(
        project=project,
        service=service,
        number=int(number_text) if number_text.isdigit() else None,
        config_files=tuple(f for f in (part.strip() for part in files.split(",")) if f),
        working_dir=labels.get(COMPOSE_WORKING_DIR) or None,
    )
