"""The advice rules: pure functions from what was measured to advice items.

Every rule either judges on numbers it has (and lists them as evidence) or
says what it lacks ("not enough data: ..."); none advises from thin air.
The guideline of 2 x CPUs + 1 workers and "async classes for I/O-bound
apps" are starting points the rules check against measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gunicorn_tui.advice.items import AdviceItem, AdviceKind, Evidence
from gunicorn_tui.advice.observation import LoadObservation
from gunicorn_tui.capacity.facts import CapacityFacts
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import GunicornConfig

# Fewer samples than this (about seconds) and load-based rules do not judge.
MIN_SAMPLES = 5
# Instance CPU at or above this share of the usable CPUs: saturated.
CPU_SATURATED_SHARE = 0.85
# Workers busy at least this share of the time: the server is saturated.
BUSY_SATURATED_SHARE = 0.75
# A busy worker using less than this (% of a core) is mostly waiting (I/O).
IO_BOUND_CPU_PERCENT = 35.0
# A busy worker using plus waiting for at least this much CPU (% of a core)
# is CPU-bound even when the CPU it gets is low (host busy, quota used up).
CPU_STARVED_DEMAND_PERCENT = 70.0
# Threads suggested for a sync server found waiting on I/O.
SUGGESTED_THREADS = 4
# Requests before a worker is recycled when memory grows or OOM kills show.
SUGGESTED_MAX_REQUESTS = 1000
SUGGESTED_JITTER = 100
_MIB = 1024 * 1024


@dataclass(frozen=True)
class AdviceInput:
    """Everything the rules read.

    ``classes_available`` maps worker class names to whether the server's
    Python can import them (None: not probed).
    """

    config: GunicornConfig
    capacity: CapacityFacts
    observation: LoadObservation
    classes_available: Mapping[str, bool | None]


def _cpu_share(data: AdviceInput) -> float | None:
    usable = data.capacity.cpu.usable_cpus
    cpu = data.observation.cpu_percent
    if usable is None or cpu is None or usable <= 0:
        return None
    return cpu / (usable * 100.0)


def _demand(data: AdviceInput) -> float | None:
    """CPU plus run-queue wait per busy worker, else its CPU alone."""
    observation = data.observation
    if observation.busy_worker_cpu_demand_percent is not None:
        return observation.busy_worker_cpu_demand_percent
    return observation.busy_worker_cpu_percent


def _cpu_bound(data: AdviceInput) -> bool:
    """The CPUs are saturated, or busy workers mostly run or wait to run."""
    share = _cpu_share(data)
    if share is not None and share >= CPU_SATURATED_SHARE:
        return True
    demand = _demand(data)
    busy = data.observation.busy_share
    return (
        demand is not None
        and busy is not None
        and busy >= BUSY_SATURATED_SHARE
        and demand >= CPU_STARVED_DEMAND_PERCENT
    )


def _enough_load(data: AdviceInput) -> str | None:
    """Why load-based rules cannot judge, or None when they can."""
    observation = data.observation
    if observation.samples < MIN_SAMPLES:
        return f"only {observation.samples} sample(s) in the window (at least {MIN_SAMPLES})"
    if observation.busy_share is None:
        return "worker states (busy or idle) could not be told"
    if observation.cpu_percent is None:
        return "the instance's CPU use could not be read"
    if data.capacity.cpu.usable_cpus is None:
        return "the usable CPU count could not be read"
    return None


def _cpu_evidence(data: AdviceInput) -> list[Evidence]:
    share = _cpu_share(data)
    return [
        Evidence("usable CPUs", data.capacity.cpu.usable_cpus, "cores"),
        Evidence("limited by", data.capacity.cpu.limited_by),
        Evidence("instance CPU", data.observation.cpu_percent, "% of a core"),
        Evidence("CPU used of usable", None if share is None else round(share * 100, 1), "%"),
        Evidence("run-queue wait per worker", data.observation.worker_run_wait_percent, "%"),
        Evidence("CPU demand per busy worker", _demand(data), "% of a core"),
    ]


def workers_vs_cpu(data: AdviceInput) -> list[AdviceItem]:
    """The worker count against 2 x usable CPUs + 1."""
    guideline = data.capacity.guideline_workers
    current = data.capacity.workers_current
    if guideline is None:
        reason = data.capacity.cpu.unavailable.get("usable_cpus", "unknown CPU count")
        return [
            AdviceItem(
                "workers-vs-cpu",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: worker count against the CPU guideline",
                f"the usable CPU count is unknown ({reason})",
            )
        ]
    evidence = [
        Evidence("workers", current),
        Evidence("guideline 2 x CPUs + 1", guideline),
        *_cpu_evidence(data),
    ]
    if current > guideline and _enough_load(data) is None and _cpu_bound(data):
        return [
            AdviceItem(
                "workers-vs-cpu",
                AdviceKind.SUGGESTION,
                f"{current} workers on {data.capacity.cpu.usable_cpus:g} usable CPU(s): "
                f"try {guideline}",
                "The server is CPU-bound and there are more workers than the guideline: extra "
                "workers only queue for CPU and add memory and context switches.",
                tuple(evidence),
                RetuneRequest(workers=guideline),
            )
        ]
    if current > guideline:
        return [
            AdviceItem(
                "workers-vs-cpu",
                AdviceKind.FINE,
                f"{current} workers, above the guideline of {guideline}",
                "Above 2 x CPUs + 1, but the CPUs are not saturated: fine when requests wait "
                "on I/O (an async or threaded worker class may do the same with less memory).",
                tuple(evidence),
            )
        ]
    return [
        AdviceItem(
            "workers-vs-cpu",
            AdviceKind.FINE,
            f"{current} workers, within the guideline of {guideline}",
            "The worker count is at or below 2 x usable CPUs + 1.",
            tuple(evidence),
        )
    ]


def workers_vs_memory(data: AdviceInput) -> list[AdviceItem]:
    """The worker count (and the guideline) against the workers that fit in memory."""
    memory = data.capacity.memory
    current = data.capacity.workers_current
    if memory.workers_fit is None:
        reason = memory.unavailable.get("workers_fit", "unknown")
        return [
            AdviceItem(
                "workers-vs-memory",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: workers that fit in memory",
                f"cannot count them: {reason}",
            )
        ]
    evidence = (
        Evidence("workers", current),
        Evidence("workers that fit", memory.workers_fit),
        Evidence("memory limit", _mib(memory.limit_bytes), "MiB"),
        Evidence("limit from", memory.limit_source),
        Evidence("largest worker USS", _mib(memory.worker_uss_max_bytes), "MiB"),
        Evidence("memory not per worker", _mib(memory.fixed_bytes), "MiB"),
        Evidence("master PSS", _mib(memory.master.pss_bytes), "MiB"),
    )
    if current > memory.workers_fit:
        target = max(1, memory.workers_fit)
        return [
            AdviceItem(
                "workers-vs-memory",
                AdviceKind.SUGGESTION,
                f"{current} workers but only {memory.workers_fit} fit in memory: try {target}",
                "At the measured private memory per worker, the workers do not fit below the "
                "limit with a 10% reserve: expect OOM kills under load.",
                evidence,
                RetuneRequest(workers=target),
            )
        ]
    guideline = data.capacity.guideline_workers
    if guideline is not None and guideline > memory.workers_fit:
        return [
            AdviceItem(
                "workers-vs-memory",
                AdviceKind.CAUTION,
                f"memory, not CPU, bounds the worker count: {memory.workers_fit} fit, "
                f"the CPU guideline says {guideline}",
                "Do not go beyond the workers that fit in memory; threads or an async class "
                "add concurrency with less memory.",
                (*evidence, Evidence("guideline 2 x CPUs + 1", guideline)),
            )
        ]
    return [
        AdviceItem(
            "workers-vs-memory",
            AdviceKind.FINE,
            f"{current} workers fit in memory (up to {memory.workers_fit})",
            "The measured private memory per worker leaves room below the limit.",
            evidence,
        )
    ]


def _mib(value: int | None) -> float | None:
    return None if value is None else round(value / _MIB, 1)


def _resulting_class(config: GunicornConfig) -> str:
    name = (config.worker_class or "sync").rsplit(".", 1)[-1].lower()
    if "thread" in name:
        return "gthread"
    if "sync" in name:
        threads = config.value("threads")
        return "gthread" if isinstance(threads, int) and threads > 1 else "sync"
    return name


def io_bound(data: AdviceInput) -> list[AdviceItem]:
    """Workers mostly busy but using little CPU: threads or an async class."""
    lacking = _enough_load(data)
    if lacking is not None:
        return [
            AdviceItem(
                "io-bound",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: are workers waiting on I/O?",
                lacking,
            )
        ]
    observation = data.observation
    busy = observation.busy_share
    busy_cpu = observation.busy_worker_cpu_percent
    demand = _demand(data)
    assert busy is not None
    if busy < BUSY_SATURATED_SHARE or busy_cpu is None or demand is None:
        return []
    if demand >= IO_BOUND_CPU_PERCENT:
        return []
    evidence = (
        Evidence("busy workers", round(busy * 100, 1), "% of the time"),
        Evidence("CPU per busy worker", busy_cpu, "% of a core"),
        Evidence("CPU demand per busy worker (CPU + run-queue wait)", demand, "% of a core"),
        Evidence("worker class", data.config.worker_class or "sync"),
        Evidence("threads", data.config.value("threads") or 1),
        Evidence("requests", observation.requests_per_s, "req/s"),
        Evidence("p99 latency", observation.latency_p99_ms, "ms"),
        Evidence("listen queue", observation.backlog_max, "connections (max)"),
    )
    current_class = _resulting_class(data.config)
    items: list[AdviceItem] = []
    if current_class == "sync":
        gevent = data.classes_available.get("gevent")
        also = (
            " gevent is installed and can serve many more concurrent waits if the app "
            "and its libraries are safe with monkey-patching."
            if gevent
            else " gevent is not installed in the image."
            if gevent is False
            else ""
        )
        items.append(
            AdviceItem(
                "io-bound",
                AdviceKind.SUGGESTION,
                f"workers are busy {busy:.0%} of the time but use {busy_cpu:.0f}% of a core: "
                f"try gthread with {SUGGESTED_THREADS} threads",
                "Busy workers that use little CPU are waiting (database, HTTP calls, disk). A "
                "sync worker serves one request at a time; threads let one worker wait on "
                f"several.{also}",
                evidence,
                RetuneRequest(worker_class="gthread", threads=SUGGESTED_THREADS),
            )
        )
        if gevent:
            items.append(
                AdviceItem(
                    "io-bound-async",
                    AdviceKind.SUGGESTION,
                    "or try gevent (installed in the image)",
                    "An async class multiplexes many waiting requests per worker.",
                    evidence,
                    RetuneRequest(worker_class="gevent", worker_connections=1000),
                )
            )
    elif current_class == "gthread":
        threads = data.config.value("threads")
        now = threads if isinstance(threads, int) and threads > 0 else 1
        items.append(
            AdviceItem(
                "io-bound",
                AdviceKind.SUGGESTION,
                f"threads are busy {busy:.0%} of the time at {busy_cpu:.0f}% CPU: "
                f"try {now * 2} threads",
                "gthread workers are saturated while waiting on I/O: more threads per worker "
                "add concurrency for little memory.",
                evidence,
                RetuneRequest(threads=now * 2),
            )
        )
    return items


def cpu_saturation(data: AdviceInput) -> list[AdviceItem]:
    """CPU saturated (with a growing backlog): more workers only if CPUs allow."""
    lacking = _enough_load(data)
    if lacking is not None:
        return [
            AdviceItem(
                "cpu-bound",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: is the server CPU-bound?",
                lacking,
            )
        ]
    observation = data.observation
    share = _cpu_share(data)
    assert share is not None and observation.busy_share is not None
    guideline = data.capacity.guideline_workers
    current = data.capacity.workers_current
    fit = data.capacity.memory.workers_fit
    growing = (
        observation.backlog_first is not None
        and observation.backlog_last is not None
        and observation.backlog_last > observation.backlog_first
    )
    evidence = (
        *_cpu_evidence(data),
        Evidence("busy workers", round(observation.busy_share * 100, 1), "% of the time"),
        Evidence("workers", current),
        Evidence("guideline 2 x CPUs + 1", guideline),
        Evidence("listen queue first", observation.backlog_first, "connections"),
        Evidence("listen queue last", observation.backlog_last, "connections"),
        Evidence("requests", observation.requests_per_s, "req/s"),
    )
    if _cpu_bound(data):
        demand = _demand(data)
        starved = share < CPU_SATURATED_SHARE and demand is not None
        return [
            AdviceItem(
                "cpu-bound",
                AdviceKind.CAUTION,
                f"CPU-bound: do not add workers beyond the guideline ({guideline})",
                f"The instance uses {share:.0%} of its {data.capacity.cpu.usable_cpus:g} usable "
                "CPU(s)"
                + (
                    f", and busy workers run or wait for a CPU {demand:.0f}% of the time "
                    "(the host is busy or the CPU quota is used up)"
                    if starved
                    else ""
                )
                + (" and its listen queue grows" if growing else "")
                + ". More workers would only queue for the same CPUs; make requests cheaper "
                "or give the container more CPUs.",
                evidence,
            )
        ]
    saturated = observation.busy_share >= BUSY_SATURATED_SHARE
    if (growing or saturated) and guideline is not None and current < guideline:
        target = guideline if fit is None else max(current, min(guideline, fit))
        if target > current:
            return [
                AdviceItem(
                    "more-workers",
                    AdviceKind.SUGGESTION,
                    f"workers are saturated and CPUs have room: try {target} workers",
                    f"Busy {observation.busy_share:.0%} of the time at {share:.0%} of usable CPU"
                    + (" with a growing listen queue" if growing else "")
                    + "; the CPUs allow up to the guideline"
                    + (" and memory allows it" if fit is not None else "")
                    + ".",
                    evidence,
                    RetuneRequest(workers=target),
                )
            ]
    return []


def failures(data: AdviceInput) -> list[AdviceItem]:
    """WORKER TIMEOUTs, OOM kills and restarts: timeout, max_requests, memory."""
    observation = data.observation
    if observation.timeouts is None:
        return [
            AdviceItem(
                "worker-failures",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: worker timeouts, OOM kills and restarts",
                "gtui reads no error log of this server (start Gunicorn with an error log it "
                "can follow: stderr in a container, or --error-logfile)",
            )
        ]
    items: list[AdviceItem] = []
    timeout = data.config.timeout_s
    if observation.timeouts:
        p99 = observation.latency_p99_ms
        wanted = int(timeout * 2) if timeout else 60
        if p99 is not None:
            wanted = max(wanted, math.ceil(p99 / 1000 * 3))
        items.append(
            AdviceItem(
                "worker-timeouts",
                AdviceKind.SUGGESTION,
                f"{observation.timeouts} WORKER TIMEOUT(s): try timeout {wanted} s, and find "
                "the slow requests",
                "The master killed workers that did not answer within the timeout. If some "
                "requests are legitimately slow, raise it; if they wait on I/O, threads or an "
                "async class keep the heartbeat going.",
                (
                    Evidence("worker timeouts", observation.timeouts),
                    Evidence("timeout", timeout, "s"),
                    Evidence("p99 latency", p99, "ms"),
                ),
                RetuneRequest(timeout=wanted),
            )
        )
    if observation.oom_suspected:
        max_requests = data.config.value("max_requests")
        recycle = (
            RetuneRequest(max_requests=SUGGESTED_MAX_REQUESTS, max_requests_jitter=SUGGESTED_JITTER)
            if not max_requests
            else None
        )
        fit = data.capacity.memory.workers_fit
        items.append(
            AdviceItem(
                "oom-kills",
                AdviceKind.SUGGESTION,
                f"{observation.oom_suspected} worker(s) killed by SIGKILL (OOM suspected): "
                + (
                    f"recycle workers (max_requests {SUGGESTED_MAX_REQUESTS} "
                    f"+ jitter {SUGGESTED_JITTER})"
                    if recycle is not None
                    else "fewer workers or more memory"
                ),
                "Workers killed by SIGKILL are usually the kernel's OOM killer. Recycling "
                "workers caps slow leaks; if memory per worker is simply large, run fewer "
                f"workers (up to {fit} fit) or raise the memory limit.",
                (
                    Evidence("OOM suspected", observation.oom_suspected),
                    Evidence("max_requests", max_requests if max_requests is not None else None),
                    Evidence("workers that fit", fit),
                    Evidence("memory limit", _mib(data.capacity.memory.limit_bytes), "MiB"),
                ),
                recycle,
            )
        )
    restarts = (observation.killed or 0) - (observation.oom_suspected or 0)
    restarts += observation.nonzero_exits or 0
    if restarts > 0:
        items.append(
            AdviceItem(
                "worker-restarts",
                AdviceKind.CAUTION,
                f"{restarts} worker(s) ended abnormally (signal or error exit)",
                "Look at the error log around those exits; a crash loop costs a boot per "
                "request in the worst case.",
                (
                    Evidence("killed by a signal", observation.killed),
                    Evidence("non-zero exits", observation.nonzero_exits),
                ),
            )
        )
    if not items:
        items.append(
            AdviceItem(
                "worker-failures",
                AdviceKind.FINE,
                "no worker timeouts, OOM kills or abnormal exits seen",
                "Counted from the error log since gtui began reading it.",
                (
                    Evidence("worker timeouts", observation.timeouts),
                    Evidence("OOM suspected", observation.oom_suspected),
                    Evidence("max_requests restarts", observation.max_requests_restarts),
                ),
            )
        )
    return items


def traffic_seen(data: AdviceInput) -> list[AdviceItem]:
    """Say so when no requests were seen: load-based verdicts then mean little."""
    observation = data.observation
    if observation.traffic_source is None:
        return [
            AdviceItem(
                "traffic",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: no request figures",
                "gtui counted no requests (no access log, no StatsD): throughput and latency "
                "are not judged.",
            )
        ]
    if not observation.requests_per_s:
        return [
            AdviceItem(
                "traffic",
                AdviceKind.NOT_ENOUGH_DATA,
                "not enough data: the server was idle in the window",
                "Advice about load needs load: observe while it serves real traffic, or drive "
                "some with `gtui load`.",
                (Evidence("requests", observation.requests_per_s, "req/s"),),
            )
        ]
    return []


RULES: tuple[Callable[[AdviceInput], list[AdviceItem]], ...] = (
    traffic_seen,
    cpu_saturation,
    io_bound,
    workers_vs_cpu,
    workers_vs_memory,
    failures,
)


def advise(data: AdviceInput) -> tuple[AdviceItem, ...]:
    """Every rule's items, suggestions and cautions first."""
    items = [item for rule in RULES for item in rule(data)]
    order = {
        AdviceKind.CAUTION: 0,
        AdviceKind.SUGGESTION: 1,
        AdviceKind.NOT_ENOUGH_DATA: 2,
        AdviceKind.FINE: 3,
    }
    return tuple(sorted(items, key=lambda item: order[item.kind]))
