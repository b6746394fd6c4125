"""``gtui recover``'s second half: put back the original config of sweeps
that were killed (SIGKILL, a lost session) once their retunes are settled.

A sweep of a whole Compose service is put back on every replica, one at a
time (each with its own journal), as the sweep itself would have.

A sweep of a container is restored through the engine its journal names
(by ``docker info`` ID): among those ``-H``/``--context`` give, else the
default one. When none of them is that engine, it is refused with the
command that reaches it, and the journal is kept, as for actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gunicorn_tui.access.endpoints import EngineEndpoint
from gunicorn_tui.cli.target_monitor import select_instance, select_replicas
from gunicorn_tui.compare.service_view import SERVICE_KEY_PREFIX, combined_sample
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.service_engine import ServiceEngine
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.journal import SweepJournal, SweepTarget
from gunicorn_tui.sweep.recovery import SweepRecovery, interrupted_sweeps, recover_sweep

# An engine recovery may act through, with the endpoint that reaches it
# (None: the default engine, DOCKER_HOST or the current context).
EngineChoice = tuple[ControlEngine, EngineEndpoint | None]


def _monitor(target: SweepTarget, endpoint: EngineEndpoint | None) -> Monitor:
    return Monitor(
        MonitorOptions(
            targets=(parse_target(target.target_text),),
            use_docker=target.container_name is not None or target.service,
            statsd_address=None,
            collect_traffic=False,
            engines=(endpoint,) if endpoint is not None else (),
        )
    )


def _recover_service_sweep(
    journal: SweepJournal, engine: ControlEngine, endpoint: EngineEndpoint | None
) -> SweepRecovery:
    """The original config back on every replica of the service."""
    target = journal.target
    host = target.key.removeprefix(SERVICE_KEY_PREFIX).rsplit("/", 2)[0]
    monitor = _monitor(target, endpoint)
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


def _finder(endpoint: EngineEndpoint | None) -> Callable[[SweepTarget], InstanceSample | None]:
    def find(target: SweepTarget) -> InstanceSample | None:
        monitor = _monitor(target, endpoint)
        try:
            monitor.open(wait_for_docker_s=15.0)
            return select_instance(monitor, target.target_text)
        except Exception:  # not found, Docker away: reported as "not found"
            return None
        finally:
            monitor.close()

    return find


class _Engines:
    """The engines recovery may act through, their IDs asked once each."""

    def __init__(self, candidates: Sequence[EngineChoice]) -> None:
        self.candidates = list(candidates)
        self._ids: dict[int, str] | None = None
        self.unreachable: dict[str, str] = {}

    @staticmethod
    def name(choice: EngineChoice) -> str:
        endpoint = choice[1]
        return endpoint.name if endpoint is not None else "the default engine"

    def ids(self) -> dict[int, str]:
        if self._ids is None:
            self._ids = {}
            for index, choice in enumerate(self.candidates):
                try:
                    self._ids[index] = choice[0].docker().identity().engine_id
                except Exception as error:  # unreachable, not Docker, ssh's reason
                    text = str(error).splitlines()[0] if str(error) else "?"
                    self.unreachable[self.name(choice)] = text
        return self._ids

    def by_id(self, engine_id: str) -> EngineChoice | None:
        ids = self.ids()
        return next((c for i, c in enumerate(self.candidates) if ids.get(i) == engine_id), None)


def _refused(journal: SweepJournal, engines: _Engines) -> SweepRecovery:
    record = journal.engine
    assert record is not None
    given = ", ".join(engines.name(c) for c in engines.candidates)
    why = "".join(f"; {name} unreachable: {reason}" for name, reason in engines.unreachable.items())
    return SweepRecovery(
        journal.id,
        journal.target.label,
        "refused",
        f"written for {record.describe()}, none of the engines given ({given}){why}: "
        f"{record.recover_hint()}",
    )


def recover_sweeps(
    engine: ControlEngine, given: Sequence[EngineChoice] = ()
) -> list[SweepRecovery]:
    """Restore the original config of every interrupted sweep, each through
    the engine its journal names (of ``given``, else the default ``engine``)."""
    engines = _Engines(given or [(engine, None)])
    results = []
    for journal in interrupted_sweeps(engine):
        record = journal.engine
        chosen: EngineChoice | None = (engine, None)
        if record is not None:
            chosen = engines.by_id(record.engine_id)
        if chosen is None:
            results.append(_refused(journal, engines))
            continue
        acting, endpoint = chosen
        if journal.target.service:
            results.append(_recover_service_sweep(journal, acting, endpoint))
            continue

        results.append(recover_sweep(journal, acting, _finder(endpoint)))
    return results
