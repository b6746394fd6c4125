"""The driver against real servers on 127.0.0.1: counts, bounds, error kinds.

Time bounds are checked loosely (the machine is shared): a run must end
within its bound plus a small allowance, never run on.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from gunicorn_tui.load.driver import LoadRun, run_load
from gunicorn_tui.load.profile import LoadProfile, parse_profile_text
from gunicorn_tui.load.summary import RunSummary, SecondSummary, StopReason
from gunicorn_tui.load.target import LoadTarget, target_from_bind
from tests.load.load_servers import ClosingServer, LoadGunicorn, free_port

# How late a run may end after its bound, on its own clock, on a busy
# two-core machine; and, for the whole call, the warm-up before the clock
# starts (capped at 2 s by the driver) on top.
SLACK_S = 0.5
CALL_SLACK_S = SLACK_S + 2.0


def _profile(run: str, *paths: str, extra: str = "") -> LoadProfile:
    requests = "".join(f'[[request]]\npath = "{path}"\n{extra}\n' for path in paths)
    return parse_profile_text(f"[run]\n{run}\n{requests}")


def _marker() -> str:
    return uuid.uuid4().hex[:12]


def _check_accounting(summary: RunSummary) -> None:
    assert summary.sent == (summary.completed + summary.errors.transport_total + summary.unfinished)
    assert sum(s.sent for s in summary.seconds) == summary.sent
    assert sum(s.completed for s in summary.seconds) == summary.completed
    assert sum(s.errors.total for s in summary.seconds) == summary.errors.total
    assert sum(summary.status_counts.values()) == summary.completed
    assert sum(e.sent for e in summary.endpoints) == summary.sent


def test_open_loop_sends_on_schedule_and_the_server_sees_every_request(
    load_gunicorn: LoadGunicorn,
) -> None:
    marker = _marker()
    profile = _profile("rate_rps = 40\nduration_s = 2", f"/fast?m={marker}")
    seconds: list[SecondSummary] = []
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(load_gunicorn.url), on_second=seconds.append)
    took = time.monotonic() - started
    assert summary.stop_reason is StopReason.DURATION
    assert summary.planned_requests == 80
    assert summary.sent == 80
    assert summary.completed == 80
    assert summary.errors.total == 0
    assert summary.status_counts == {200: 80}
    assert [s.target_sends for s in summary.seconds[:2]] == [40, 40]
    assert [s.sent for s in summary.seconds[:2]] == [40, 40]
    assert seconds == list(summary.seconds)  # the callback saw every second
    assert 1.975 <= summary.elapsed_s <= 2.0 + SLACK_S  # the last is due at 79/40 s
    assert took <= 2.0 + CALL_SLACK_S
    assert load_gunicorn.wait_for_entries(marker, 80) == 80
    # Latency from the due time is never below the service time.
    assert summary.latency.p50_ms is not None and summary.service.p50_ms is not None
    assert summary.latency.p50_ms >= summary.service.p50_ms
    assert summary.latency.max_ms is not None and summary.latency.max_ms < 1000
    _check_accounting(summary)


def test_ramp_up_follows_the_schedule(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 60\nramp_up_s = 2\nduration_s = 3", "/fast?ramp")
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    # 60 t^2 / 4 requests due by t during the ramp: 15 by 1 s, 60 by 2 s.
    assert [s.target_sends for s in summary.seconds[:3]] == [15, 45, 60]
    assert summary.sent == 120
    assert [s.sent for s in summary.seconds[:3]] == [15, 45, 60]
    _check_accounting(summary)


def test_count_bound_closed_loop_reuses_its_connections(load_gunicorn: LoadGunicorn) -> None:
    marker = _marker()
    profile = _profile("mode = 'closed'\nconcurrency = 3\nmax_requests = 150", f"/fast?m={marker}")
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.stop_reason is StopReason.MAX_REQUESTS
    assert (summary.sent, summary.completed) == (150, 150)
    assert load_gunicorn.wait_for_entries(marker, 150) == 150
    ports = {entry[4] for entry in load_gunicorn.access_entries(marker)}
    # Keep-alive: 150 requests over at most 3 connections.
    assert 1 <= len(ports) <= 3
    _check_accounting(summary)


def test_fewer_connections_than_clients_are_shared(load_gunicorn: LoadGunicorn) -> None:
    marker = _marker()
    profile = _profile(
        "mode = 'closed'\nconcurrency = 6\nconnections = 2\nmax_requests = 60",
        f"/io?ms=10&m={marker}",
    )
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.completed == 60
    assert load_gunicorn.wait_for_entries(marker, 60) == 60
    assert len({entry[4] for entry in load_gunicorn.access_entries(marker)}) <= 2
    # Clients wait for a connection, and that wait is part of their latency.
    assert summary.latency.p50_ms is not None and summary.service.p50_ms is not None
    assert summary.latency.p50_ms > summary.service.p50_ms


def test_duration_bound_closed_loop_ends_on_time(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("mode = 'closed'\nconcurrency = 3\nduration_s = 1.5", "/io?ms=50")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    took = time.monotonic() - started
    assert summary.stop_reason is StopReason.DURATION
    assert 1.5 <= summary.elapsed_s <= 1.5 + SLACK_S
    assert took <= 1.5 + CALL_SLACK_S
    assert summary.completed > 10
    assert summary.unfinished == 0
    _check_accounting(summary)


def test_drain_cuts_off_slow_requests_at_the_bound(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 4\nduration_s = 1\ntimeout_s = 10\ndrain_s = 0.5", "/io?ms=4000")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    took = time.monotonic() - started
    assert summary.elapsed_s <= 1.5 + SLACK_S
    assert took <= 1.5 + CALL_SLACK_S
    assert summary.sent == 4
    assert summary.unfinished == 4
    assert summary.completed == 0
    assert any("cut off" in warning for warning in summary.warnings)
    _check_accounting(summary)


def test_stop_event_ends_a_long_run_at_once(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 20\nduration_s = 60", "/io?ms=200")
    stop = threading.Event()
    run = LoadRun(profile, LoadTarget(load_gunicorn.url), stop_event=stop).start()
    time.sleep(1.2)
    asked = time.monotonic()
    stop.set()
    summary = run.join(timeout_s=5)
    assert summary is not None, "the run did not stop within 5 s"
    assert time.monotonic() - asked < 1.0
    assert summary.stop_reason is StopReason.STOPPED
    assert summary.elapsed_s < 3
    assert 1 <= summary.sent <= 30  # 20 req/s for at most the 1.2 s before the stop
    _check_accounting(summary)


def test_coordinated_omission_is_corrected(load_gunicorn: LoadGunicorn) -> None:
    # One connection, 100 ms per request, 20 requests due per second: the
    # client can send only 10 per second, so requests go out later and later.
    # Their latency from the due time grows; the service time stays ~100 ms.
    profile = _profile(
        "rate_rps = 20\nduration_s = 2\nconnections = 1\ndrain_s = 0.5", "/io?ms=100"
    )
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.service.p50_ms is not None and summary.latency.p90_ms is not None
    assert summary.service.p90_ms is not None
    assert 95 <= summary.service.p50_ms <= 400
    assert summary.latency.p90_ms > 3 * summary.service.p90_ms
    # One connection at >= 100 ms a request sends at most 25 of the 40 due
    # requests by the hard end (2.5 s); a busy machine sends fewer.
    assert summary.sent <= 26
    assert summary.missed >= 14
    assert summary.sent + summary.missed == summary.planned_requests == 40
    assert any("late" in warning for warning in summary.warnings)


def test_a_storm_of_5xx_is_counted(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("mode = 'closed'\nconcurrency = 4\nmax_requests = 200", "/status/503")
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.completed == 200
    assert summary.errors.http_5xx == 200
    assert summary.errors.total == 200
    assert summary.status_counts == {503: 200}
    assert summary.error_rate == 1.0
    assert summary.latency.count == 200  # 5xx answers have latencies too


def test_4xx_are_counted_apart_from_5xx(load_gunicorn: LoadGunicorn) -> None:
    profile = parse_profile_text(
        "[run]\nmode = 'closed'\nconcurrency = 2\nmax_requests = 100\nseed = 5\n"
        '[[request]]\npath = "/status/404"\n[[request]]\npath = "/fast"\n'
    )
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.completed == 100
    assert summary.errors.http_4xx == summary.status_counts[404]
    assert summary.errors.http_4xx + summary.status_counts[200] == 100
    assert summary.errors.http_5xx == 0
    by_name = {e.name: e for e in summary.endpoints}
    assert by_name["GET /status/404"].errors.http_4xx == by_name["GET /status/404"].completed


def test_timeouts_are_counted_and_the_run_ends_on_time(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 5\nduration_s = 1\ntimeout_s = 0.3", "/io?ms=2000")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert time.monotonic() - started <= 1.3 + CALL_SLACK_S
    assert summary.elapsed_s <= 1.3 + SLACK_S
    assert summary.errors.timeout == summary.sent == 5
    assert summary.completed == 0


def test_unreachable_url_counts_refusals_and_ends_on_time() -> None:
    port = free_port()  # nothing listens there
    profile = _profile("rate_rps = 20\nduration_s = 1", "/fast")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(f"http://127.0.0.1:{port}"))
    assert time.monotonic() - started <= 1.0 + CALL_SLACK_S
    assert summary.elapsed_s <= 1.0 + SLACK_S
    assert summary.sent == 20
    assert summary.errors.connect_refused == 20
    assert summary.completed == 0
    assert any("no request got a response" in warning for warning in summary.warnings)
    _check_accounting(summary)


def test_https_to_a_plain_http_port_is_a_tls_error(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 10\nduration_s = 1", "/fast")
    https_url = load_gunicorn.url.replace("http://", "https://")
    summary = run_load(profile, LoadTarget(https_url))
    assert summary.sent == 10
    assert summary.errors.tls == 10
    assert summary.completed == 0


def test_real_tls_server_with_a_self_signed_certificate(
    load_gunicorn_factory: Callable[..., LoadGunicorn],
    load_tls_files: tuple[object, object],
) -> None:
    cert, key = load_tls_files
    server = load_gunicorn_factory(certfile=cert, keyfile=key)
    assert server.url.startswith("https://")
    marker = _marker()
    insecure = _profile(
        "mode = 'closed'\nconcurrency = 2\nmax_requests = 40\nverify_tls = false",
        f"/fast?m={marker}",
    )
    summary = run_load(insecure, LoadTarget(server.url))
    assert (summary.completed, summary.errors.total) == (40, 0)
    assert server.wait_for_entries(marker, 40) == 40
    # Verification on (the default): the self-signed certificate is refused.
    strict = _profile("mode = 'closed'\nconcurrency = 2\nmax_requests = 10", "/fast")
    refused = run_load(strict, LoadTarget(server.url))
    assert refused.errors.tls == 10
    assert refused.completed == 0


def test_a_server_that_hangs_up_at_once(
    load_closing_server_factory: Callable[[bytes], ClosingServer],
) -> None:
    server = load_closing_server_factory(b"")
    profile = _profile("rate_rps = 20\nduration_s = 1", "/fast")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(f"http://127.0.0.1:{server.port}"))
    assert time.monotonic() - started <= 1.0 + CALL_SLACK_S
    assert summary.elapsed_s <= 1.0 + SLACK_S
    assert summary.sent == 20
    assert summary.errors.protocol == 20
    assert server.accepted >= 20  # each request tried a new connection


def test_a_server_that_hangs_up_mid_response(
    load_closing_server_factory: Callable[[bytes], ClosingServer],
) -> None:
    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it"
    server = load_closing_server_factory(truncated)
    profile = _profile("mode = 'closed'\nconcurrency = 2\nmax_requests = 20", "/fast")
    summary = run_load(profile, LoadTarget(f"http://127.0.0.1:{server.port}"))
    assert summary.errors.protocol == 20
    assert summary.completed == 0


def test_a_server_that_closes_after_every_response_is_not_an_error(
    load_gunicorn_factory: Callable[..., LoadGunicorn],
) -> None:
    # Sync workers answer with "Connection: close": the driver reconnects.
    server = load_gunicorn_factory(worker_class="sync", workers=2, threads=1)
    marker = _marker()
    profile = _profile("mode = 'closed'\nconcurrency = 2\nmax_requests = 60", f"/fast?m={marker}")
    summary = run_load(profile, LoadTarget(server.url))
    assert (summary.completed, summary.errors.total) == (60, 0)
    assert server.wait_for_entries(marker, 60) == 60
    ports = {entry[4] for entry in server.access_entries(marker)}
    assert len(ports) == 60  # a new connection for every request


def test_unix_socket_bind(
    load_gunicorn_factory: Callable[..., LoadGunicorn], tmp_path_factory: pytest.TempPathFactory
) -> None:
    socket_path = tmp_path_factory.mktemp("sock") / "g.sock"
    server = load_gunicorn_factory(bind=f"unix:{socket_path}")
    target = target_from_bind(server.bind)
    assert target.unix_socket_path == str(socket_path)
    profile = _profile("mode = 'closed'\nconcurrency = 2\nmax_requests = 30", "/fast")
    summary = run_load(profile, target)
    assert (summary.completed, summary.errors.total) == (30, 0)
    assert summary.target == f"unix:{socket_path}"


def test_methods_headers_bodies_and_placeholders_reach_the_server(
    load_gunicorn: LoadGunicorn,
) -> None:
    marker = _marker()
    profile = parse_profile_text(
        "[run]\nmode = 'closed'\nconcurrency = 2\nmax_requests = 120\nseed = 11\n"
        f'[[request]]\nmethod = "POST"\npath = "/items/{{n}}?m={marker}"\n'
        'n_range = [100, 104]\nbody = "{}"\nheaders = { Content-Type = "application/json" }\n'
        "weight = 1\n"
        f'[[request]]\nmethod = "HEAD"\npath = "/fast?m={marker}"\nweight = 1\n'
    )
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.completed == 120
    assert load_gunicorn.wait_for_entries(marker, 120) == 120
    entries = load_gunicorn.access_entries(marker)
    posts = [e for e in entries if e[0] == "POST"]
    heads = [e for e in entries if e[0] == "HEAD"]
    assert len(posts) + len(heads) == 120
    assert len(posts) == summary.endpoints[0].sent
    assert {e[1] for e in posts} == {f"/items/{n}" for n in range(100, 105)}


def test_the_builtin_profile_runs_every_request_kind(load_gunicorn: LoadGunicorn) -> None:
    from gunicorn_tui.load.profile import load_profile_or_builtin

    profile = load_profile_or_builtin(
        "mixed", overrides={"rate_rps": 60, "ramp_up_s": 0, "duration_s": 2, "seed": 1}
    )
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    assert summary.completed == summary.sent == 120
    assert all(endpoint.completed > 0 for endpoint in summary.endpoints)
    assert summary.errors.total == 0


def test_a_failing_callback_does_not_stop_the_run(load_gunicorn: LoadGunicorn) -> None:
    def broken(_: SecondSummary) -> None:
        raise RuntimeError("consumer bug")

    profile = _profile("rate_rps = 20\nduration_s = 2", "/fast")
    summary = run_load(profile, LoadTarget(load_gunicorn.url), on_second=broken)
    assert summary.completed == 40
    assert [w for w in summary.warnings if "callback failed" in w] == [
        "the per-second callback failed: RuntimeError('consumer bug')"
    ]


def test_runs_beside_the_callers_event_loop(load_gunicorn: LoadGunicorn) -> None:
    # The dashboard calls the driver from a thread of an app with its own
    # running loop: the run must neither need nor block that loop.
    import asyncio

    threads: set[str] = set()
    profile = _profile("rate_rps = 20\nduration_s = 1", "/fast")

    async def caller() -> tuple[RunSummary | None, int]:
        run = LoadRun(
            profile,
            LoadTarget(load_gunicorn.url),
            on_second=lambda _: threads.add(threading.current_thread().name),
        ).start()
        ticks = 0
        while run.running:
            await asyncio.sleep(0.05)
            ticks += 1
        return run.join(), ticks

    summary, ticks = asyncio.run(caller())
    assert summary is not None and summary.completed == 20
    assert ticks >= 10  # the caller's loop kept running meanwhile
    assert threads == {"gtui-load"}


def test_count_bound_open_loop_ends_after_its_count(load_gunicorn: LoadGunicorn) -> None:
    profile = _profile("rate_rps = 50\nmax_requests = 30", "/fast")
    started = time.monotonic()
    summary = run_load(profile, LoadTarget(load_gunicorn.url))
    took = time.monotonic() - started
    assert summary.stop_reason is StopReason.MAX_REQUESTS
    assert (summary.planned_requests, summary.sent, summary.completed) == (30, 30, 30)
    assert summary.elapsed_s <= 0.6 + SLACK_S  # the last request is due at 0.58 s
    assert took <= 0.6 + CALL_SLACK_S
    _check_accounting(summary)


def test_a_target_with_several_urls_spreads_the_requests_round_robin(
    load_gunicorn: LoadGunicorn, load_gunicorn_factory: Callable[..., LoadGunicorn]
) -> None:
    # Two servers, as the replicas of a Compose service: each gets every
    # other request, and the run counts them all as one.
    other = load_gunicorn_factory()
    marker = _marker()
    profile = _profile("rate_rps = 40\nduration_s = 1", f"/fast?m={marker}")
    target = LoadTarget(load_gunicorn.url, more_base_urls=(other.url,))
    summary = run_load(profile, target)
    assert summary.sent == summary.completed == 40, summary.warnings
    assert summary.target == f"{load_gunicorn.url}, {other.url} (round-robin)"
    assert load_gunicorn.wait_for_entries(marker, 20) == 20
    assert other.wait_for_entries(marker, 20) == 20
    _check_accounting(summary)
