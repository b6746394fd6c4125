"""Accuracy against a real Gunicorn under load from an independent client.

A sync Gunicorn (4 workers, access log with pid and duration) serves
``/io?ms=200`` to Debian's ``hey`` at a fixed, moderate rate (3 clients x 4
req/s for 14 s, bounded by time and rate; never more requests in flight
than workers, so none waits in the listen queue). The access log file is followed
live and fed to :class:`TrafficMetrics` with arrival times, as the monitor
will do. Checked:

* total requests: exactly hey's count of responses;
* per worker: exactly what each worker counted itself (``worker.nr``,
  written by a ``worker_exit`` hook when the server stops), an independent
  count that never reads the access log;
* req/s over 10 s at steady load: within 2 % of hey's own count of
  responses completed in the same 10 s (each window of the steady part);
* p50 and p99 latency: within 10 % of hey's (from its per-request CSV).

Residual, by design: the server's ``%(D)s`` runs from when the worker has
parsed the request to when the response is written, while hey measures
from before connecting to after reading the body. The sync worker closes
each connection, so the client adds a TCP connect and its own scheduling
(loopback), plus the wake-up of the client after the response is written,
which on this shared 2-core machine under other engineers' load was seen
at about 2 ms at the median and 5 ms at p99 (with 20 ms requests that was
10 % and 17 %: over the bound; with 50 ms, 5 % and up to 10 %; with
100 ms, 3 % and up to 9 % at p99 when other load peaked). 200 ms requests
keep that overhead well inside 10 %. The test prints
the gap and hey's own breakdown.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gunicorn_tui.traffic.access_log_format import DEFAULT_ACCESS_LOG_FORMAT, AccessLogParser
from gunicorn_tui.traffic.log_follow import FileFollower
from gunicorn_tui.traffic.metrics import TrafficMetrics
from tests.traffic.live_gunicorn import run_gunicorn

PID_D = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"
HOOKS = """
import os

def worker_exit(server, worker):
    # The worker's own count of the requests it handled.
    path = os.path.join(os.environ["GTUI_COUNTS_DIR"], str(worker.pid))
    with open(path, "w") as counts:
        counts.write(str(worker.nr))
"""


def _nearest_rank(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * round(quantile * 1000) // 1000)) - 1]


@pytest.mark.slow
def test_counts_rate_and_latency_match_an_independent_client(tmp_path: Path) -> None:
    hey = shutil.which("hey")
    if hey is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hey is missing: apt-get install -y hey")
        pytest.skip("needs Debian's hey (apt-get install -y hey)")
    counts_dir = tmp_path / "counts"
    counts_dir.mkdir()
    (tmp_path / "hooks.py").write_text(HOOKS)
    access_log = tmp_path / "access.log"
    os.environ["GTUI_COUNTS_DIR"] = str(counts_dir)
    parser = AccessLogParser(PID_D)
    metrics = TrafficMetrics()
    stop = threading.Event()
    follower = FileFollower(access_log)
    arrivals: list[float] = []

    def feed() -> None:
        while not stop.is_set():
            lines = follower.poll()
            now = time.time()
            for line in lines:
                record = parser.parse(line)
                if record is not None:
                    metrics.observe_record(record, now)
                    arrivals.append(now)
            stop.wait(0.02)

    args = ["-c", str(tmp_path / "hooks.py"), "--access-logfile", str(access_log)]
    try:
        with run_gunicorn(
            tmp_path, args, workers=4, access_log=False, access_log_format=PID_D
        ) as server:
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            started = time.time()
            result = subprocess.run(
                [hey, "-z", "14s", "-c", "3", "-q", "4", "-o", "csv",
                 server.base_url + "/io?ms=200"],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            finished = time.time()
            time.sleep(0.5)  # the last lines reach the file and the follower
        # The server has stopped: every worker_exit hook has run.
        time.sleep(0.3)
    finally:
        stop.set()
        os.environ.pop("GTUI_COUNTS_DIR", None)
    feeder.join(5)

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    client_ok = [row for row in rows if row["status-code"] == "200"]
    assert len(client_ok) == len(rows) > 130
    snapshot = metrics.snapshot(time.time() + 2)

    # Counts: exact, in total and per worker.
    assert parser.counts().skipped == 0
    assert snapshot.requests_total == len(rows)
    assert snapshot.status_totals["2xx"] == len(rows)
    own_counts = {int(path.name): int(path.read_text()) for path in counts_dir.iterdir()}
    logged = {worker.logged_pid: worker.requests_total for worker in snapshot.workers}
    assert logged == {pid: count for pid, count in own_counts.items() if count}
    assert len(logged) >= 2

    # req/s over every 10 s window of steady load (a second in from each
    # end), against the client's count of responses completed in the same
    # window. hey's times are offsets from its own start, which lies an
    # unknown few ms (more under load) after ours; with three clients in
    # step, that alone moves 3 responses across a window edge (2.5 %). So
    # its start is placed by the median gap between the n-th completion and
    # the n-th arrival here (which also takes in the log's delivery lag):
    # one number, the counts stay independent.
    history = {point.second: point.requests for point in metrics.history(time.time())}
    completions = sorted(float(row["offset"]) + float(row["response-time"]) for row in rows)
    assert len(arrivals) == len(completions)
    client_origin = statistics.median(
        arrival - done for arrival, done in zip(sorted(arrivals), completions, strict=True)
    )
    assert started <= client_origin <= started + 2.0
    completions = [client_origin + done for done in completions]
    first_second, last_second = int(started) + 2, int(finished) - 2
    windows = []
    for start in range(first_second, last_second - 9 + 1):
        server_count = sum(history.get(second, 0) for second in range(start, start + 10))
        client_count = sum(1 for done in completions if start <= done < start + 10)
        windows.append((server_count / 10, client_count / 10))
        assert abs(server_count - client_count) <= 0.02 * client_count, windows
    assert windows
    client_rate = len(rows) / (finished - started)

    # Latency: the server's %(D)s against hey's response times, whole run.
    client_ms = [float(row["response-time"]) * 1000 for row in rows]
    latency = metrics.snapshot(finished + 0.9).window(60).latency
    assert latency.count == len(rows)
    gaps = {}
    for name, quantile, server_ms in (("p50", 0.5, latency.p50_ms), ("p99", 0.99, latency.p99_ms)):
        client_value = _nearest_rank(client_ms, quantile)
        assert server_ms is not None
        gaps[name] = (server_ms, client_value)
        assert abs(server_ms - client_value) <= 0.10 * client_value, gaps
    breakdown = {
        column: round(sum(float(row[column]) for row in rows) / len(rows) * 1000, 3)
        for column in ("DNS+dialup", "Request-write", "Response-delay", "Response-read")
    }
    print(
        f"\nrequests {len(rows)}, client {client_rate:.2f} req/s overall; 10 s windows "
        f"(server, client) req/s {windows}; "
        f"(server ms, client ms): {gaps}; client mean ms {breakdown}; per worker {logged}"
    )
