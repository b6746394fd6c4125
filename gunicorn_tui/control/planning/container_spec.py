"""The create request for a container's replacement, from its full inspect.

Everything is carried over except what must change (the command or env) and
what Docker derives per container (ids, hostname when it was the short id,
generated MAC addresses). Anonymous volumes are re-mounted by name, so the
data in them follows the service. See ../shared/notes/docker.md.

Pure: the inspect and the decisions come in as data.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Config keys carried from the old container to the new one.
CARRIED_CONFIG_KEYS: tuple[str, ...] = (
    "Labels",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Healthcheck",
    "StopSignal",
    "StopTimeout",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Domainname",
    "Hostname",
    "MacAddress",
    "ArgsEscaped",
)
_SPECIAL_NETWORK_MODES = ("host", "none")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CreateSpec:
    """A ``POST /containers/create`` body and the networks to connect before start."""

    body: Mapping[str, Any]
    extra_networks: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    notes: tuple[str, ...] = ()
    anonymous_volumes: tuple[str, ...] = field(default=())


def _short_id(inspect: Mapping[str, Any]) -> str:
    return str(inspect.get("Id", ""))[:12]


def anonymous_volume_mounts(inspect: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Volume mounts no bind or mount spec names: Docker made them for this
    container and would make fresh, empty ones for a new container."""
    host_config = inspect.get("HostConfig") or {}
    named_destinations: set[str] = set()
    for bind in host_config.get("Binds") or []:
        parts = str(bind).split(":")
        if len(parts) >= 2:
            named_destinations.add(parts[1])
    for mount in host_config.get("Mounts") or []:
        if mount.get("Source"):
            named_destinations.add(str(mount.get("Target")))
    found = []
    for mount in inspect.get("Mounts") or []:
        if mount.get("Type") != "volume":
            continue
        if str(mount.get("Destination")) in named_destinations:
            continue
        found.append(mount)
    return found


def _endpoint_config(endpoint: Mapping[str, Any], short_id: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    aliases = [a for a in endpoint.get("Aliases") or [] if a != short_id]
    if aliases:
        config["Aliases"] = aliases
    for key in ("IPAMConfig", "Links", "DriverOpts"):
        if endpoint.get(key):
            config[key] = copy.deepcopy(endpoint[key])
    return config


def _rewrite_links(links: Sequence[str] | None) -> list[str] | None:
    # inspect shows "/db:/web/db"; create wants "db:db".
    if not links:
        return None
    out = []
    for link in links:
        source, _, target = link.partition(":")
        out.append(f"{source.lstrip('/')}:{target.rsplit('/', 1)[-1]}")
    return out


def _pin_host_ports(host_config: dict[str, Any], inspect: Mapping[str, Any]) -> list[str]:
    """Publishes the engine chose a host port for (``-p 8000``, a range, Compose
    replicas) get the port they have now: without it the new container comes
    up on another port, and load, probes and clients lose it."""
    bindings = host_config.get("PortBindings")
    actual = (inspect.get("NetworkSettings") or {}).get("Ports") or {}
    pinned: list[str] = []
    if not isinstance(bindings, dict) or not isinstance(actual, Mapping):
        return pinned
    for key, entries in bindings.items():
        now = actual.get(key) or []
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            host_port = str(entry.get("HostPort") or "")
            if host_port.isdigit() and int(host_port) > 0:
                continue
            wanted_ip = str(entry.get("HostIp") or "")
            for current in now:
                current_ip = str((current or {}).get("HostIp") or "")
                wildcard = not wanted_ip and current_ip in ("0.0.0.0", "::")
                same_ip = current_ip == wanted_ip or wildcard
                current_port = str((current or {}).get("HostPort") or "")
                if same_ip and current_port.isdigit():
                    entry["HostPort"] = current_port
                    pinned.append(f"{key} on {current_port}")
                    break
    return pinned


def _normalise_ulimits(host_config: dict[str, Any]) -> None:
    """Podman's inspect names ulimits ``RLIMIT_NOFILE`` and its create refuses
    that spelling; both engines take ``nofile``."""
    ulimits = host_config.get("Ulimits")
    if not isinstance(ulimits, list):
        return
    for item in ulimits:
        name = item.get("Name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.upper().startswith("RLIMIT_"):
            item["Name"] = name[len("RLIMIT_") :].lower()


def recreate_spec(
    inspect: Mapping[str, Any],
    *,
    entrypoint: Sequence[str] | None,
    cmd: Sequence[str] | None,
    env: Sequence[str],
    image: str,
    connect_extra_networks: bool = True,
) -> CreateSpec:
    """The body to create a replacement of the container ``inspect`` describes.

    ``connect_extra_networks``: on Docker API < 1.44 a container is created on
    one network and connected to the others before it starts.
    """
    old = inspect.get("Config") or {}
    host_config = copy.deepcopy(dict(inspect.get("HostConfig") or {}))
    _normalise_ulimits(host_config)
    notes: list[str] = []
    body: dict[str, Any] = {
        "Image": image,
        "Entrypoint": list(entrypoint) if entrypoint is not None else None,
        "Cmd": list(cmd) if cmd is not None else None,
        "Env": list(env),
    }
    short_id = _short_id(inspect)
    network_mode = str(host_config.get("NetworkMode") or "default")
    for key in CARRIED_CONFIG_KEYS:
        if key in old and old[key] not in (None, "", {}, []):
            body[key] = copy.deepcopy(old[key])
    if body.get("Hostname") == short_id or network_mode in _SPECIAL_NETWORK_MODES:
        body.pop("Hostname", None)  # Docker names each container's host itself
        if network_mode in _SPECIAL_NETWORK_MODES:
            body.pop("Domainname", None)
    if network_mode.startswith("container:"):
        for key in ("Hostname", "Domainname", "ExposedPorts", "MacAddress"):
            body.pop(key, None)

    links = _rewrite_links(host_config.get("Links"))
    if links is None:
        host_config.pop("Links", None)
    else:
        host_config["Links"] = links
    anonymous = anonymous_volume_mounts(inspect)
    binds = list(host_config.get("Binds") or [])
    mounts = list(host_config.get("Mounts") or [])
    for volume in anonymous:
        name = str(volume.get("Name"))
        destination = str(volume.get("Destination"))
        spec = next(
            (m for m in mounts if m.get("Target") == destination and not m.get("Source")), None
        )
        if spec is not None:
            spec["Source"] = name
        else:
            suffix = "" if volume.get("RW", True) else ":ro"
            binds.append(f"{name}:{destination}{suffix}")
    if anonymous:
        notes.append(
            "anonymous volumes re-mounted by name: "
            + ", ".join(f"{v.get('Name', '')[:12]} at {v.get('Destination')}" for v in anonymous)
        )
    if binds:
        host_config["Binds"] = binds
    if mounts:
        host_config["Mounts"] = mounts
    pinned = _pin_host_ports(host_config, inspect)
    if pinned:
        notes.append(
            "host ports the engine picked are kept ("
            + ", ".join(pinned)
            + "), so the service keeps its address"
        )
    body["HostConfig"] = host_config

    networks = (inspect.get("NetworkSettings") or {}).get("Networks") or {}
    extra: list[tuple[str, Mapping[str, Any]]] = []
    if network_mode not in _SPECIAL_NETWORK_MODES and not network_mode.startswith("container:"):
        primary = "bridge" if network_mode == "default" else network_mode
        endpoints: dict[str, Any] = {}
        for name, endpoint in networks.items():
            config = _endpoint_config(endpoint or {}, short_id)
            if name == primary or not connect_extra_networks:
                endpoints[name] = config
            else:
                extra.append((name, config))
        if endpoints:
            body["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return CreateSpec(
        body=body,
        extra_networks=tuple(extra),
        notes=tuple(notes),
        anonymous_volumes=tuple(str(v.get("Name")) for v in anonymous),
    )


def describe_create(name: str, spec: CreateSpec) -> str:
    """A readable one-line summary of the create request."""
    body = spec.body
    words = [f"docker create --name {name}"]
    entrypoint = body.get("Entrypoint")
    if entrypoint:
        words.append(f"--entrypoint {' '.join(entrypoint)!r}")
    words.append("(all settings of the old container)")
    words.append(str(body.get("Image")))
    words.extend(body.get("Cmd") or [])
    line = " ".join(words)
    for network, _ in spec.extra_networks:
        line += f"; docker network connect {network} {name}"
    return line


TEMPORARY_SUFFIX = "-gtui-new"
ASIDE_SUFFIX = "-gtui-old"


def temporary_name(name: str) -> str:
    """The name the replacement is created under (Compose v2 style)."""
    return f"{name}{TEMPORARY_SUFFIX}"


def aside_name(name: str) -> str:
    """The name the old container is moved to until the new one serves."""
    return f"{name}{ASIDE_SUFFIX}"
