"""RSS growth while 10 million access-log lines go through parser + metrics.

Lines are rendered by Gunicorn's own glogging code (format with pid and
duration), with ids in paths (``/items/N``, UUIDs) so endpoint grouping and
its cache are exercised, 8 worker pids that change over time (workers
recycled), and arrival times advancing 20k lines per simulated second, with a
snapshot every simulated second as the dashboard would take. RSS is read from
/proc/self/status after a warm-up of 200k lines and then every million
lines; the target is at most 20 MB of growth over the run.

Run: ``python benchmarks/memory_bench.py [--lines 10000000]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gunicorn_tui.traffic.access_log_format import DEFAULT_ACCESS_LOG_FORMAT, AccessLogParser
from gunicorn_tui.traffic.metrics import TrafficMetrics
from tests.harness.rendered_log_lines import render_lines

FORMAT = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"
LINES_PER_SECOND = 20_000
TARGET_GROWTH_BYTES = 20 * 1024 * 1024


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--lines", type=int, default=10_000_000)
    options = arguments.parse_args()

    # 20k distinct lines; the pid in each is rewritten per "generation" so
    # workers come and go like recycled workers do.
    distinct = render_lines(FORMAT, 20_000, seed=2)
    pid_text = distinct[0].rsplit(" ", 2)[1]
    generations = [
        [
            line.replace(pid_text, f"<{1000 + generation * 8 + index % 8}>")
            for index, line in enumerate(distinct)
        ]
        for generation in range(4)
    ]
    parser = AccessLogParser(FORMAT)
    metrics = TrafficMetrics()
    now = 1_800_000_000.0
    warmup = min(200_000, options.lines // 10)
    baseline_rss = 0
    started = time.perf_counter()
    done = 0
    print(f"{'lines':>12} {'rss MB':>8} {'growth MB':>10} {'lines/s':>10}")
    while done < options.lines:
        lines = generations[(done // 2_000_000) % len(generations)]
        for line in lines:
            record = parser.parse(line)
            if record is not None:
                metrics.observe_record(record, now)
            done += 1
            if done % LINES_PER_SECOND == 0:
                now += 1.0
                metrics.snapshot(now)
            if done == warmup:
                gc.collect()
                baseline_rss = rss_bytes()
            if done % 1_000_000 == 0 or done == options.lines:
                gc.collect()
                rss = rss_bytes()
                rate = done / (time.perf_counter() - started)
                growth = (rss - baseline_rss) / 2**20 if baseline_rss else 0.0
                print(f"{done:>12,} {rss / 2**20:8.1f} {growth:10.2f} {rate:10.0f}")
            if done >= options.lines:
                break
    growth_bytes = rss_bytes() - baseline_rss
    snapshot = metrics.snapshot(now + 1)
    print(
        f"\nRSS growth after warm-up: {growth_bytes / 2**20:.2f} MB over {done:,} lines "
        f"(target <= 20 MB: {'met' if growth_bytes <= TARGET_GROWTH_BYTES else 'MISSED'})"
    )
    print(
        f"parsed {parser.parsed:,}, skipped {parser.counts().skipped:,}; "
        f"requests counted {snapshot.requests_total:,}; workers tracked {len(snapshot.workers)}, "
        f"forgotten {snapshot.forgotten_workers}; endpoints {len(snapshot.endpoints)}; "
        f"history points {len(metrics.history(now + 1))}"
    )


if __name__ == "__main__":
    main()
