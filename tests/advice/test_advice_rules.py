"""The advice rules on data: each case names the measurements and the items
(rule, kind, retune) they must give."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gunicorn_tui.advice.items import AdviceKind
from gunicorn_tui.advice.observation import LoadObservation, parse_schedstat
from gunicorn_tui.advice.rules import AdviceInput, advise
from gunicorn_tui.capacity.facts import (
    BacklogReading,
    CapacityFacts,
    CpuCapacity,
    MemoryCapacity,
    ProcessMemory,
    guideline_workers,
)
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import ConfigSetting, ConfigSource, GunicornConfig

MIB = 1024 * 1024

IDLE = LoadObservation(
    window_s=10.0,
    samples=10,
    busy_share=0.1,
    worker_cpu_percent=2.0,
    busy_worker_cpu_percent=20.0,
    worker_run_wait_percent=0.5,
    busy_worker_cpu_demand_percent=25.0,
    cpu_percent=10.0,
    requests_per_s=5.0,
    latency_p99_ms=20.0,
    error_rate=0.0,
    backlog_first=0,
    backlog_last=0,
    backlog_max=0,
    timeouts=0,
    oom_suspected=0,
    killed=0,
    nonzero_exits=0,
    max_requests_restarts=0,
    traffic_source="access log",
)


def _config(**values: Any) -> GunicornConfig:
    settings = {"worker_class": "sync", "threads": 1, "timeout": 30, "max_requests": 0, **values}
    return GunicornConfig(
        {
            k: ConfigSetting(v, ConfigSource.COMMAND_LINE, ConfigSource.COMMAND_LINE)
            for k, v in settings.items()
        }
    )


def _capacity(workers: int, cpus: float | None, fit: int | None = 50) -> CapacityFacts:
    process = ProcessMemory(1, 30 * MIB, 20 * MIB, 10 * MIB)
    memory = MemoryCapacity(
        limit_bytes=1024 * MIB,
        limit_source="cgroup",
        used_bytes=200 * MIB,
        master=process,
        workers=(process,) * workers,
        worker_uss_max_bytes=10 * MIB,
        worker_uss_median_bytes=10 * MIB,
        fixed_bytes=100 * MIB,
        reserve_bytes=100 * MIB,
        workers_fit=fit,
        unavailable={} if fit is not None else {"workers_fit": "no memory limit"},
    )
    return CapacityFacts(
        key="k",
        taken_at=0.0,
        cpu=CpuCapacity(cpus, cpus, None, 16, "quota" if cpus else "unknown"),
        memory=memory,
        backlog=BacklogReading(0, 128, "listen queue", 1),
        workers_current=workers,
        guideline_workers=guideline_workers(cpus),
    )


def _run(
    observation: LoadObservation,
    *,
    workers: int = 3,
    cpus: float | None = 1.0,
    fit: int | None = 50,
    gevent: bool | None = None,
    **config: Any,
) -> dict[str, tuple[AdviceKind, RetuneRequest | None]]:
    items = advise(
        AdviceInput(
            _config(**config), _capacity(workers, cpus, fit), observation, {"gevent": gevent}
        )
    )
    found: dict[str, tuple[AdviceKind, RetuneRequest | None]] = {}
    for item in items:
        found.setdefault(item.rule, (item.kind, item.retune))
        assert item.kind is AdviceKind.NOT_ENOUGH_DATA or item.evidence, item
    return found


def obs(**changes: Any) -> LoadObservation:
    return dataclasses.replace(IDLE, **changes)


CPU_SATURATED = obs(
    busy_share=1.0,
    worker_cpu_percent=33.0,
    busy_worker_cpu_percent=33.0,
    busy_worker_cpu_demand_percent=40.0,
    cpu_percent=95.0,
    requests_per_s=40.0,
    backlog_first=2,
    backlog_last=9,
)
CPU_STARVED = obs(
    busy_share=0.97,
    busy_worker_cpu_percent=15.0,
    worker_run_wait_percent=80.0,
    busy_worker_cpu_demand_percent=97.0,
    cpu_percent=45.0,
)
IO_WAITING = obs(
    busy_share=1.0,
    worker_cpu_percent=3.0,
    busy_worker_cpu_percent=3.0,
    busy_worker_cpu_demand_percent=4.0,
    cpu_percent=12.0,
    requests_per_s=30.0,
)
QUEUE_GROWING = obs(
    busy_share=0.9,
    busy_worker_cpu_percent=40.0,
    busy_worker_cpu_demand_percent=45.0,
    cpu_percent=110.0,
    backlog_first=0,
    backlog_last=12,
)

CASES = [
    # (id, observation, options, rule -> (kind, retune) that must be there, rules that must not)
    ("cpu-bound under a quota", CPU_SATURATED, {"workers": 3, "cpus": 1.0},
     {"cpu-bound": (AdviceKind.CAUTION, None)}, {"io-bound", "more-workers"}),
    ("cpu-starved by a busy host", CPU_STARVED, {"workers": 3, "cpus": 1.0},
     {"cpu-bound": (AdviceKind.CAUTION, None)}, {"io-bound"}),
    ("too many workers on a saturated CPU", CPU_SATURATED, {"workers": 8, "cpus": 1.0},
     {"workers-vs-cpu": (AdviceKind.SUGGESTION, RetuneRequest(workers=3)),
      "cpu-bound": (AdviceKind.CAUTION, None)}, set()),
    ("sync waiting on I/O", IO_WAITING, {"workers": 2, "cpus": 2.0},
     {"io-bound": (AdviceKind.SUGGESTION, RetuneRequest(worker_class="gthread", threads=4))},
     {"cpu-bound", "io-bound-async"}),
    ("sync waiting on I/O, gevent installed", IO_WAITING, {"workers": 2, "gevent": True},
     {"io-bound-async": (AdviceKind.SUGGESTION,
                         RetuneRequest(worker_class="gevent", worker_connections=1000))}, set()),
    ("gthread waiting on I/O", IO_WAITING, {"worker_class": "gthread", "threads": 4},
     {"io-bound": (AdviceKind.SUGGESTION, RetuneRequest(threads=8))}, set()),
    ("queue grows, CPUs have room", QUEUE_GROWING, {"workers": 2, "cpus": 4.0},
     {"more-workers": (AdviceKind.SUGGESTION, RetuneRequest(workers=9))}, {"cpu-bound"}),
    ("queue grows, memory bounds", QUEUE_GROWING, {"workers": 2, "cpus": 4.0, "fit": 5},
     {"more-workers": (AdviceKind.SUGGESTION, RetuneRequest(workers=5)),
      "workers-vs-memory": (AdviceKind.CAUTION, None)}, set()),
    ("more workers than fit", IDLE, {"workers": 6, "fit": 4},
     {"workers-vs-memory": (AdviceKind.SUGGESTION, RetuneRequest(workers=4))}, set()),
    ("timeouts", obs(timeouts=3, latency_p99_ms=40_000.0), {},
     {"worker-timeouts": (AdviceKind.SUGGESTION, RetuneRequest(timeout=120))}, set()),
    ("oom kills", obs(killed=2, oom_suspected=2), {},
     {"oom-kills": (AdviceKind.SUGGESTION,
                    RetuneRequest(max_requests=1000, max_requests_jitter=100))},
     {"worker-restarts"}),
    ("crashes", obs(nonzero_exits=4), {}, {"worker-restarts": (AdviceKind.CAUTION, None)}, set()),
    ("quiet and fine", IDLE, {},
     {"workers-vs-cpu": (AdviceKind.FINE, None), "worker-failures": (AdviceKind.FINE, None)},
     {"io-bound", "cpu-bound", "more-workers"}),
    ("no CPU count", IDLE, {"cpus": None},
     {"workers-vs-cpu": (AdviceKind.NOT_ENOUGH_DATA, None),
      "cpu-bound": (AdviceKind.NOT_ENOUGH_DATA, None)}, set()),
    ("too few samples", obs(samples=2), {},
     {"io-bound": (AdviceKind.NOT_ENOUGH_DATA, None)}, set()),
    ("no error log", obs(timeouts=None, oom_suspected=None, killed=None), {},
     {"worker-failures": (AdviceKind.NOT_ENOUGH_DATA, None)}, set()),
    ("idle server", obs(requests_per_s=0.0), {},
     {"traffic": (AdviceKind.NOT_ENOUGH_DATA, None)}, set()),
    ("no memory limit known", IDLE, {"fit": None},
     {"workers-vs-memory": (AdviceKind.NOT_ENOUGH_DATA, None)}, set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("observation", "options", "wanted", "absent"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rules(
    observation: LoadObservation,
    options: dict[str, Any],
    wanted: dict[str, tuple[AdviceKind, RetuneRequest | None]],
    absent: set[str],
) -> None:
    found = _run(observation, **options)
    for rule, expected in wanted.items():
        assert found.get(rule) == expected, (rule, found)
    assert not absent & set(found), found


def test_cautions_and_suggestions_come_first() -> None:
    items = advise(AdviceInput(_config(), _capacity(8, 1.0), CPU_SATURATED, {}))
    kinds = [item.kind for item in items]
    assert kinds[0] is AdviceKind.CAUTION
    assert kinds.index(AdviceKind.FINE) > kinds.index(AdviceKind.SUGGESTION)


def test_schedstat_lines() -> None:
    assert parse_schedstat("123 456 7\n") == (123, 456)
    assert parse_schedstat("") is None
    assert parse_schedstat("x y z") is None
