"""Before a container is re-created: what it would lose, who depends on it, who owns it.

Three questions ``docker compose`` and ``kubectl`` users expect a careful tool
to ask before replacing a container:

- **its writable layer** (``docker diff``): files written inside the
  container since it started are lost with it. What the server rebuilds on
  its own (bytecode caches, Gunicorn's control socket) is left out; the
  rest is shown in the plan and needs explicit consent.
- **dependents**: containers that share its network namespace
  (``--network container:``), mount its volumes (``--volumes-from``) or
  link to it would be left pointing at a container that no longer exists.
- **orchestrators**: a Swarm task or a Kubernetes pod is owned by its
  orchestrator, which would start a duplicate of a container gtui removed,
  and bring the old settings back. The change belongs in the service spec.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gunicorn_tui.access.docker_engine import ChangeKind, DockerEngine, LayerChange
from gunicorn_tui.control.planning.managed_config import CANDIDATE_SUFFIX

# What Gunicorn and Python rebuild on their own: losing it loses nothing.
REBUILT_PATTERNS: tuple[str, ...] = (
    "*/__pycache__",
    "*/__pycache__/*",
    "*.pyc",
    "*/.gunicorn",
    "*/.gunicorn/gunicorn.ctl",
    "*/gunicorn.ctl",
    f"*{CANDIDATE_SUFFIX}",
)
MAX_SHOWN_CHANGES = 12


def mount_points(inspect: Mapping[str, Any]) -> tuple[str, ...]:
    """Where the container mounts volumes, binds and tmpfs (they outlive it)."""
    return tuple(
        str(mount.get("Destination"))
        for mount in inspect.get("Mounts") or []
        if mount.get("Destination")
    )


def layer_losses(
    changes: Sequence[LayerChange], mounts: Iterable[str] = (), carried: Iterable[str] = ()
) -> tuple[str, ...]:
    """The changes a re-create would lose, as ``docker diff`` lines ("A /data/x").

    Directories only listed because something inside them changed are left
    out (their children are listed), and so are mount points (what is mounted
    there is kept), what the server rebuilds and ``carried`` (paths whose
    content the re-create carries over).
    """
    paths = [change.path for change in changes]
    carried_paths = set(carried)
    mounted = tuple(m.rstrip("/") for m in mounts)
    kept: list[str] = []
    for change in changes:
        path = change.path
        if any(path == m or path.startswith(m + "/") for m in mounted):
            continue
        if change.kind is not ChangeKind.DELETED and any(
            other.startswith(path.rstrip("/") + "/") for other in paths
        ):
            continue  # a directory whose contents are listed
        if path in carried_paths:
            continue
        if any(fnmatch.fnmatch(path, pattern) for pattern in REBUILT_PATTERNS):
            continue
        kept.append(f"{change.kind.value} {path}")
    return tuple(kept)


def describe_losses(losses: Sequence[str]) -> str:
    shown = ", ".join(losses[:MAX_SHOWN_CHANGES])
    more = len(losses) - MAX_SHOWN_CHANGES
    return shown + (f" and {more} more" if more > 0 else "")


def _names(inspect: Mapping[str, Any]) -> set[str]:
    name = str(inspect.get("Name", "")).lstrip("/")
    container_id = str(inspect.get("Id", ""))
    return {name, container_id, container_id[:12]} - {""}


def _refers(reference: str, names: set[str], full_id: str) -> bool:
    reference = reference.lstrip("/")
    return reference in names or (len(reference) >= 12 and full_id.startswith(reference))


def dependents(engine: DockerEngine, inspect: Mapping[str, Any]) -> tuple[str, ...]:
    """Containers (running or not) that would break if this one were replaced, with why."""
    names = _names(inspect)
    full_id = str(inspect.get("Id", ""))
    found: list[str] = []
    for summary in engine.containers(all_states=True):
        other_id = str(summary.get("Id", ""))
        if other_id == full_id:
            continue
        other = engine.inspect(other_id)
        if other is None:
            continue
        other_name = str(other.get("Name", "")).lstrip("/") or other_id[:12]
        host_config = other.get("HostConfig") or {}
        mode = str(host_config.get("NetworkMode") or "")
        if mode.startswith("container:") and _refers(mode.partition(":")[2], names, full_id):
            found.append(f"{other_name} shares its network (--network container:)")
        for source in host_config.get("VolumesFrom") or []:
            if _refers(str(source).partition(":")[0], names, full_id):
                found.append(f"{other_name} mounts its volumes (--volumes-from)")
                break
        for link in host_config.get("Links") or []:
            if _refers(str(link).partition(":")[0], names, full_id):
                found.append(f"{other_name} links to it (--link)")
                break
    return tuple(found)


def orchestrator_of(labels: Mapping[str, str], name: str) -> str | None:
    """Why an orchestrator owns the container and what to do instead, or None."""
    service = labels.get("com.docker.swarm.service.name")
    if service or labels.get("com.docker.swarm.task.id"):
        target = service or "SERVICE"
        return (
            f"{name} is a task of the Swarm service {target}: Swarm would start a replacement "
            "and bring the old settings back. Change the service instead, e.g. "
            f"`docker service update --env-add GUNICORN_CMD_ARGS='...' {target}`"
        )
    pod = labels.get("io.kubernetes.pod.name")
    if pod or any(key.startswith("io.kubernetes.") for key in labels):
        namespace = labels.get("io.kubernetes.pod.namespace", "NAMESPACE")
        return (
            f"{name} belongs to the Kubernetes pod {pod or '?'} (namespace {namespace}): the "
            "kubelet would start it again with the old settings. Change its workload instead, "
            f"e.g. `kubectl -n {namespace} set env deployment/NAME GUNICORN_CMD_ARGS='...'`"
        )
    if labels.get("com.hashicorp.nomad.alloc_id"):
        return (
            f"{name} is a Nomad allocation: Nomad would replace it. Change the job "
            "specification and run `nomad job run`"
        )
    return None
