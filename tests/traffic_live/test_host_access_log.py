"""A host master writing its access log to a file: exact counts, total and
per worker, against the pids the responses themselves report.

The harness's Gunicorn has setproctitle, so its command line is hidden
(``gunicorn: master [...]``) and its control socket does not report the
access log: gtui has to find the log file from the master's open files.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.traffic_live.traffic_waits import (
    PID_AND_DURATION_FORMAT,
    get_many,
    settle,
    traffic_monitor,
    traffic_until,
)

REQUESTS = 300


def test_counts_exact_total_and_per_worker_from_a_log_file(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    access_log = tmp_path / "access.log"
    server = local_gunicorn.start(
        "--workers",
        "3",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        PID_AND_DURATION_FORMAT,
    )
    with traffic_monitor(f"pid:{server.pid}") as monitor:
        sample, view, _ = traffic_until(
            monitor,
            server.pid,
            lambda s, v: len(s.workers) == 3 and any(str(access_log) in x for x in v.sources),
            timeout_s=15,
            what="the access-log file among the sources",
        )
        truth = get_many(server.base_url, "/fast", REQUESTS)
        traffic_until(
            monitor,
            server.pid,
            lambda s, v: v.snapshot.requests_total >= REQUESTS,
            timeout_s=15,
            what=f"{REQUESTS} requests counted",
        )
        sample, view, _ = settle(monitor, server.pid)

    assert view.snapshot.requests_total == REQUESTS
    assert view.lines.unparsed == 0, view.lines.recent_unparsed
    by_host_pid = {w.host_pid: w.requests_total for w in view.snapshot.workers}
    # Host processes: the pid in the log is the host pid, mapped to itself.
    assert by_host_pid == dict(truth)
    assert {w.pid for w in sample.workers} >= set(truth)
    assert view.snapshot.status_totals["2xx"] == REQUESTS
    assert view.snapshot.requests_without_latency == 0
