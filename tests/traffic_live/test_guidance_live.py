"""Guidance against real servers: each missing source gets the exact flags,
and a server started again with those flags added needs no more guidance.

Containers are used because their command line is known (from Docker), so
gtui knows what is configured; all of them send StatsD to one listener,
which also checks that packets are told apart by server.
"""

from __future__ import annotations

import shlex
import time

import docker
from docker.models.containers import Container

from gunicorn_tui.model.instances import ConfigSource
from gunicorn_tui.monitor.monitor import Monitor
from gunicorn_tui.traffic.guidance import (
    NO_LINES_AFTER_S,
    RECOMMENDED_FORMAT,
    Guidance,
    traffic_guidance,
)
from gunicorn_tui.traffic.instance_traffic import TrafficView
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port
from tests.images import tags
from tests.traffic.live_gunicorn import free_udp_port
from tests.traffic_live.traffic_waits import get_many, traffic_monitor, traffic_until

DEFAULT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
WITH_DURATION = DEFAULT + " %(D)s"
WITH_PID = DEFAULT + " %(p)s"


def _quoted(fmt: str) -> str:
    return "--access-logformat " + shlex.quote(fmt)


def _scenarios(statsd: str) -> dict[str, tuple[list[str], list[Guidance]]]:
    """Name: (gunicorn flags, the guidance expected for them)."""
    statsd_flags = ["--statsd-host", statsd]
    log = ["--access-logfile", "-", "--access-logformat"]
    return {
        "no access log": (
            statsd_flags,
            [
                Guidance(
                    "no access log",
                    "request rates, status mix, latency, per-worker and per-endpoint figures",
                    "--access-logfile - " + _quoted(RECOMMENDED_FORMAT),
                )
            ],
        ),
        "no pid": (
            [*log, WITH_DURATION, *statsd_flags],
            [
                Guidance(
                    "no worker pid in the access-log format",
                    "requests per worker, busy share per worker",
                    _quoted(WITH_DURATION + " %(p)s"),
                )
            ],
        ),
        "no duration": (
            [*log, WITH_PID, *statsd_flags],
            [
                Guidance(
                    "no request time in the access-log format",
                    "latency p50/p90/p99/max, busy share per worker",
                    _quoted(WITH_PID + " %(D)s"),
                )
            ],
        ),
        "neither pid nor duration": (
            [*log, DEFAULT, *statsd_flags],
            [
                Guidance(
                    "no worker pid and no request time in the access-log format",
                    "requests per worker, latency p50/p90/p99/max, busy share per worker",
                    _quoted(DEFAULT + " %(p)s %(D)s"),
                )
            ],
        ),
        "no statsd": (
            [*log, RECOMMENDED_FORMAT],
            [
                Guidance(
                    "no StatsD",
                    "listen backlog, worker count gauge, log-level counts",
                    f"--statsd-host {statsd}",
                )
            ],
        ),
        "complete": ([*log, RECOMMENDED_FORMAT, *statsd_flags], []),
    }


def _start(factory: ContainerFactory, flags: list[str]) -> tuple[Container, int]:
    port = free_port()
    container = factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", *flags, "app:app"],
    )
    return container, port


def _master_pid(factory: ContainerFactory, container: Container, port: int) -> int:
    factory.wait_http(container, port)
    container.reload()
    return int(container.attrs["State"]["Pid"])


def _guidance_after_requests(
    monitor: Monitor, servers: dict[str, tuple[int, int]], requests: dict[str, int]
) -> dict[str, tuple[tuple[Guidance, ...], TrafficView]]:
    """Send each server its number of requests, wait until the monitor has
    read them (from the access log or StatsD), then ask for guidance."""
    for name, (_, port) in servers.items():
        get_many(f"http://127.0.0.1:{port}", "/fast", requests[name])
    started = time.monotonic()
    results: dict[str, tuple[tuple[Guidance, ...], TrafficView]] = {}
    for name, (master_pid, _) in servers.items():
        want = requests[name]
        sample, view, _ = traffic_until(
            monitor,
            master_pid,
            lambda s, v, want=want: (
                v.snapshot.requests_total >= want  # type: ignore[misc]
                and v.statsd_packets >= 3 * want * ("statsd" in v.sources)
            ),
            timeout_s=20,
            what=f"{name}: {want} requests read",
        )
        guidance = traffic_guidance(
            sample, view, monitor.statsd_address, time.monotonic() - started
        )
        results[name] = (guidance, view)
    return results


def test_each_missing_source_gets_the_exact_flags_and_they_work(
    container_factory: ContainerFactory, docker_client: docker.DockerClient
) -> None:
    statsd_port = free_udp_port()
    statsd = f"127.0.0.1:{statsd_port}"
    scenarios = _scenarios(statsd)
    started = {name: _start(container_factory, flags) for name, (flags, _) in scenarios.items()}
    servers = {
        name: (_master_pid(container_factory, container, port), port)
        for name, (container, port) in started.items()
    }
    # A different count per server: StatsD packets must reach their own.
    requests = {name: 4 + 2 * index for index, name in enumerate(scenarios)}
    names = [container.name or "" for container, _ in started.values()]
    with traffic_monitor(*names, use_docker=True, statsd_address=("127.0.0.1", statsd_port)) as m:
        traffic_until(
            m,
            next(iter(servers.values()))[0],
            lambda s, v: len(v.sources) > 0,
            timeout_s=20,
            what="sources attached",
        )
        results = _guidance_after_requests(m, servers, requests)
    for name, (_, expected) in scenarios.items():
        guidance, view = results[name]
        assert list(guidance) == expected, name
        if "statsd" in view.sources:
            # Three packets per request (count, timer, status), plus the
            # worker gauge and log counters; another server's would be more.
            assert 3 * requests[name] <= view.statsd_packets <= 3 * requests[name] + 6, name

    # The same servers started again with the flags given: nothing missing.
    retried = {
        name: _start(container_factory, flags + shlex.split(expected[0].flags))
        for name, (flags, expected) in scenarios.items()
        if expected
    }
    servers = {
        name: (_master_pid(container_factory, container, port), port)
        for name, (container, port) in retried.items()
    }
    names = [container.name or "" for container, _ in retried.values()]
    with traffic_monitor(*names, use_docker=True, statsd_address=("127.0.0.1", statsd_port)) as m:
        traffic_until(
            m,
            next(iter(servers.values()))[0],
            lambda s, v: len(v.sources) > 0,
            timeout_s=20,
            what="sources attached",
        )
        results = _guidance_after_requests(m, servers, {name: 5 for name in servers})
        for name, (master_pid, _) in servers.items():
            guidance, view = results[name]
            assert guidance == (), name
            assert view.request_source == "access log", name
            # What the added atoms give: per-worker counts and latency
            # (windows hold complete seconds: wait for this one to close).
            _, view, _ = traffic_until(
                m,
                master_pid,
                lambda s, v: v.snapshot.window(60).requests == 5,
                timeout_s=5,
                what=f"{name}: the requests in the 60 s window",
            )
            assert view.snapshot.window(60).latency.count == 5, name
            assert [w.requests_total for w in view.snapshot.workers] == [5], name
            assert view.snapshot.workers[0].busy_share_10s is not None, name


def test_hidden_configuration_without_access_log_on_the_host(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    """setproctitle hides the host master's flags: silence is the evidence.
    The flags given write a file in the server's working directory, which
    gtui finds among the master's open files."""
    statsd_port = free_udp_port()
    statsd = ("--statsd-host", f"127.0.0.1:{statsd_port}")
    server = local_gunicorn.start("--workers", "1", *statsd)
    with traffic_monitor(f"pid:{server.pid}", statsd_address=("127.0.0.1", statsd_port)) as m:
        sample, view, _ = traffic_until(
            m,
            server.pid,
            lambda s, v: "statsd" in v.sources,
            timeout_s=15,
            what="StatsD found from the master's socket",
        )
        assert sample.config.get("accesslog").source is ConfigSource.UNKNOWN
        get_many(server.base_url, "/fast", 3)
        sample, view, _ = traffic_until(
            m,
            server.pid,
            lambda s, v: v.snapshot.requests_total == 3,
            timeout_s=10,
            what="3 requests counted from StatsD",
        )
        # Watched long enough for silence to mean something.
        guidance = traffic_guidance(sample, view, m.statsd_address, NO_LINES_AFTER_S)
    assert view.request_source == "statsd"
    assert guidance == (
        Guidance(
            "no access-log lines read yet "
            "(configuration hidden and no log file open in the master)",
            "request rates, status mix, latency",
            "--access-logfile access.log " + _quoted(RECOMMENDED_FORMAT),
        ),
    )
    local_gunicorn.stop(server)

    server = local_gunicorn.start("--workers", "1", *statsd, *shlex.split(guidance[0].flags))
    with traffic_monitor(f"pid:{server.pid}", statsd_address=("127.0.0.1", statsd_port)) as m:
        traffic_until(
            m,
            server.pid,
            lambda s, v: "statsd" in v.sources and any("access.log" in x for x in v.sources),
            timeout_s=15,
            what="the access log found among the master's files",
        )
        truth = get_many(server.base_url, "/fast", 6)
        sample, view, _ = traffic_until(
            m,
            server.pid,
            lambda s, v: v.lines.access_records == 6,
            timeout_s=10,
            what="6 requests read from the access log",
        )
        guidance = traffic_guidance(sample, view, m.statsd_address, NO_LINES_AFTER_S)
    assert view.request_source == "access log"
    assert view.snapshot.requests_total == 6
    assert {w.host_pid: w.requests_total for w in view.snapshot.workers} == dict(truth)
    assert guidance == ()
