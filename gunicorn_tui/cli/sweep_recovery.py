"""``gtui recover``'s second half: put back the original config of sweeps
that were killed (SIGKILL, a lost session) once their retunes are settled.

A sweep of a whole Compose service is put back on every replica, one at a
time (each with its own journal), as the sweep itself would have."""

from __future__ import annotations

from gunicorn_tui.cli.target_monitor import select_instance, select_replicas
from gunicorn_tui.compare.service_view import SERVICE_KEY_PREFIX, combined_sample
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.service_engine import ServiceEngine
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.journal import SweepJournal, SweepTarget
from gunicorn_tui.sweep.recovery import SweepRecovery, interrupted_sweeps, recover_sweep


def _monitor(target: SweepTarget) -> Monitor:
    return Monitor(
        MonitorOptions(
            targets=(parse_target(target.target_text),),
            use_docker=target.container_name is not None or target.service,
            statsd_address=None,
            collect_traffic=False,
        )
    )


def _recover_service_sweep(journal: SweepJournal, engine: ControlEngine) -> SweepRecovery:
    """The original config back on every replica of the service."""
    target = journal.target
    host = target.key.removeprefix(SERVICE_KEY_PREFIX).rsplit("/", 2)[0]
    monitor = _monitor(target)
    try:
        monitor.open(wait_for_docker_s=15.0)
        replicas = tuple(r for r in select_replicas(monitor, target.target_text) if r.host == host)
    except Exception:  # not found, Docker away: reported as "not found"
        replicas = ()
    finally:
        monitor.close()
    service = ServiceEngine(engine, lambda: replicas, target.target_text, target.key)
    sample = combined_sample(target.key, target.target_text, replicas) if replicas else None
    return recover_sweep(journal, service, lambda _target: sample)


def recover_sweeps(engine: ControlEngine) -> list[SweepRecovery]:
    """Restore the original config of every interrupted sweep."""
    results = []
    for journal in interrupted_sweeps(engine):
        if journal.target.service:
            results.append(_recover_service_sweep(journal, engine))
            continue

        def find(target: SweepTarget) -> InstanceSample | None:
            monitor = _monitor(target)
            try:
                monitor.open(wait_for_docker_s=15.0)
                return select_instance(monitor, target.target_text)
            except Exception:  # not found, Docker away: reported as "not found"
                return None
            finally:
                monitor.close()

        results.append(recover_sweep(journal, engine, find))
    return results
