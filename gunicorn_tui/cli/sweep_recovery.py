"""``gtui recover``'s second half: put back the original config of sweeps
that were killed (SIGKILL, a lost session) once their retunes are settled."""

from __future__ import annotations

from gunicorn_tui.cli.target_monitor import select_instance
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.journal import SweepTarget
from gunicorn_tui.sweep.recovery import SweepRecovery, interrupted_sweeps, recover_sweep


def recover_sweeps(engine: ControlEngine) -> list[SweepRecovery]:
    """Restore the original config of every interrupted sweep."""
    results = []
    for journal in interrupted_sweeps(engine):

        def find(target: SweepTarget) -> InstanceSample | None:
            monitor = Monitor(
                MonitorOptions(
                    targets=(parse_target(target.target_text),),
                    use_docker=target.container_name is not None,
                    statsd_address=None,
                    collect_traffic=False,
                )
            )
            try:
                monitor.open(wait_for_docker_s=15.0)
                return select_instance(monitor, target.target_text)
            except Exception:  # not found, Docker away: reported as "not found"
                return None
            finally:
                monitor.close()

        results.append(recover_sweep(journal, engine, find))
    return results
