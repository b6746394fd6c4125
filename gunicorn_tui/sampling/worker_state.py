"""Derive what a worker is doing from heartbeat, connections and CPU.

Gunicorn workers touch a heartbeat file; the master kills a worker whose file
is older than ``timeout``. How often they touch it differs by class:

- sync: at the top of its accept loop, then it waits up to timeout/2 for a
  connection. An idle sync worker's heartbeat can be up to timeout/2 old; it
  does not move while a request is served. So for sync, the reliable "busy"
  signal is holding an accepted client connection.
- gthread, gevent, asgi, tornado, uvicorn: about once a second from their
  loop, whatever the traffic. An old heartbeat means a blocked loop.

The rule, first match wins:

1. booting: the worker has not touched its heartbeat file since the master
   created it just before the fork (it is still importing the app), and it is
   younger than ``timeout``.
2. stuck: heartbeat older than 3/4 of ``timeout`` (the master kills it at
   ``timeout``).
3. busy: CPU >= 10% of a core over the last interval; or (sync) it holds a
   client connection, or its heartbeat is older than timeout/2 + 2 s; or
   (other classes) its heartbeat is older than 2.5 s.
4. idle: nothing above applies and there is enough evidence to say so: a
   CPU figure, and for sync workers also a connection count.
5. unknown: otherwise (first sample of a process, or a remote daemon whose
   API gives no per-process CPU and no descriptors).
"""

from __future__ import annotations

from dataclasses import dataclass

from gunicorn_tui.model.instances import WorkerState

BUSY_CPU_PERCENT = 10.0
STUCK_FRACTION_OF_TIMEOUT = 0.75
LOOP_HEARTBEAT_LIMIT_S = 2.5
SYNC_HEARTBEAT_SLACK_S = 2.0


@dataclass(frozen=True)
class WorkerEvidence:
    """What was measured about one worker in one sample."""

    worker_class: str | None
    timeout_s: float | None
    age_s: float | None
    heartbeat_age_s: float | None
    heartbeat_ever_touched: bool | None
    cpu_percent: float | None
    client_connections: int | None


def derive_state(evidence: WorkerEvidence) -> WorkerState:
    """Apply the rule in this module's docstring."""
    timeout = evidence.timeout_s if evidence.timeout_s and evidence.timeout_s > 0 else 30.0
    heartbeat = evidence.heartbeat_age_s
    cpu = evidence.cpu_percent
    if heartbeat is None and cpu is None:
        return WorkerState.UNKNOWN

    young = evidence.age_s is not None and evidence.age_s < timeout
    if evidence.heartbeat_ever_touched is False and young:
        return WorkerState.BOOTING
    if heartbeat is not None and heartbeat > STUCK_FRACTION_OF_TIMEOUT * timeout:
        return WorkerState.STUCK
    if cpu is not None and cpu >= BUSY_CPU_PERCENT:
        return WorkerState.BUSY
    is_sync = evidence.worker_class in (None, "sync")
    if is_sync:
        if evidence.client_connections:
            return WorkerState.BUSY
        if heartbeat is not None and heartbeat > timeout / 2 + SYNC_HEARTBEAT_SLACK_S:
            return WorkerState.BUSY
        if cpu is None or evidence.client_connections is None:
            # An idle sync worker and one waiting on I/O inside a request
            # look the same without CPU and connection figures.
            return WorkerState.UNKNOWN
        return WorkerState.IDLE
    if heartbeat is not None and heartbeat > LOOP_HEARTBEAT_LIMIT_S:
        return WorkerState.BUSY
    return WorkerState.IDLE if cpu is not None else WorkerState.UNKNOWN
