"""Does gtui keep up with Gunicorn at the fastest rate this machine serves?

A local Gunicorn (sync, 4 workers, the sample app's /fast) logs to an
access-log file; ``wrk`` on 127.0.0.1 drives it as fast as it answers, for a
bounded time. Each run measures, in the same conditions:

1. baseline: wrk alone (no gtui): the server's request rate;
2. with gtui: a separate process runs a ``Monitor`` on the server (sampling
   once a second, as the dashboard does) and follows the file; wrk again.

Printed per run, then as medians over the runs:

- the server's rate (wrk's requests/s) without and with gtui (the ratio is
  what watching costs the server on this 2-core machine, where everything
  shares the cores);
- lines written to the file and access records gtui counted (they must be
  equal), and the ingested rate;
- the lag from a line being written to its being counted: this process polls
  the file's size every 5 ms and counts the lines in what was appended (the
  moment a line is seen written), while the gtui process polls its own
  record count every 10 ms (the moment it is counted), both on the system's
  monotonic clock; median, p99 and max over every line (each side is
  quantised to its poll period). gtui reads files every 250 ms
  (``FILE_POLL_S``), so about 125 ms on average is by design;
- gtui's CPU (user + system, all threads, % of one core) during the load,
  and per 1000 lines, beside its CPU while the server is idle; and the CPU
  of the thread that reads and counts the log lines alone (the rest is the
  once-a-second sampling of processes, which costs more under load).

The load average is printed before and after. Usage:
``python benchmarks/ingestion_lag.py [--seconds 15] [--runs 3] [--connections 16]``
(needs ``wrk``: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.local_gunicorn import LocalGunicorn, LocalGunicornFactory

LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'
WRITE_POLL_S = 0.005
COUNT_POLL_S = 0.010
DRAIN_S = 3.0


# --- the gtui side (a child process) --------------------------------------------


def run_child(pid: int, seconds: float, out: Path) -> None:
    """Monitor ``pid`` for ``seconds`` after it is ready; write what was seen."""
    from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
    from gunicorn_tui.monitor.targets import parse_target

    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{pid}"),),
            use_docker=False,
            statsd_address=None,
            probe_versions=False,
        )
    )
    monitor.open()
    hub = monitor.traffic_hub
    assert hub is not None
    deadline = time.monotonic() + 20
    key = None
    while key is None:
        frame = monitor.sample()
        for sample in frame.instances:
            view = frame.traffic.get(sample.key)
            if view is not None and any("access.log" in s for s in view.sources):
                key = sample.key
        if time.monotonic() > deadline:
            raise SystemExit("gtui never attached to the access log")
        time.sleep(0.2)
    traffic = hub.instance_traffic(key)
    assert traffic is not None
    counts: list[tuple[float, int]] = []
    # (time, process CPU s, CPU s of the thread that reads the log files)
    cpu: list[tuple[float, float, float]] = []
    stop = threading.Event()
    me = psutil.Process()
    reader = next(t.native_id for t in threading.enumerate() if t.name == "gtui-log-files")

    def reader_cpu() -> float:
        for thread in me.threads():
            if thread.id == reader:
                return float(thread.user_time + thread.system_time)
        return float("nan")

    def probe() -> None:
        last = -1
        while not stop.wait(COUNT_POLL_S):
            value = traffic.access_records
            if value != last:
                counts.append((time.monotonic(), value))
                last = value

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    print("ready", flush=True)
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        cpu.append((time.monotonic(), time.process_time(), reader_cpu()))
        monitor.sample()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - cpu[-1][0])))
    cpu.append((time.monotonic(), time.process_time(), reader_cpu()))
    stop.set()
    thread.join()
    final = monitor.sample().traffic[key]
    monitor.close()
    out.write_text(
        json.dumps(
            {
                "counts": counts,
                "cpu": cpu,
                "records": final.lines.access_records,
                "unparsed": final.lines.unparsed,
            }
        )
    )


# --- the load and the written side ----------------------------------------------


class WrittenLines:
    """Polls a file's size and counts the lines appended: (time, lines so far)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.points: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WrittenLines:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        lines = 0
        with self.path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            while not self._stop.wait(WRITE_POLL_S):
                chunk = log.read()
                if chunk:
                    lines += chunk.count(b"\n")
                    self.points.append((time.monotonic(), lines))


def run_wrk(url: str, seconds: float, connections: int) -> dict[str, float]:
    """wrk's requests and requests/s."""
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    total = re.search(r"(\d+) requests in", result.stdout)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if total is None or rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}")
    return {
        "requests": float(total.group(1)),
        "rate": float(rate.group(1)),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _moments(points: list[tuple[float, int]], total: int) -> list[float]:
    """For line k = 1..total, the first time the cumulative count reached k."""
    moments: list[float] = []
    for at, count in points:
        while len(moments) < min(count, total):
            moments.append(at)
    return moments


@dataclass
class RunResult:
    """One run's figures."""

    baseline_rate: float
    rate: float
    written: int
    counted: int
    unparsed: int
    ingested_rate: float
    lag_median_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cpu_load_percent: float
    cpu_reader_percent: float
    cpu_idle_percent: float
    cpu_ms_per_1k_lines: float
    reader_ms_per_1k_lines: float


def _cpu_percent(
    cpu: list[tuple[float, float, float]], start: float, end: float, column: int = 1
) -> float:
    """CPU in % of one core between ``start`` and ``end``: column 1 the
    whole process, 2 the log-reading thread."""
    inside = [row for row in cpu if start <= row[0] <= end]
    if len(inside) < 2:
        return float("nan")
    first, last = inside[0], inside[-1]
    return 100.0 * (last[column] - first[column]) / (last[0] - first[0])


def one_run(server: LocalGunicorn, log: Path, seconds: float, connections: int) -> RunResult:
    url = f"{server.base_url}/fast"
    baseline = run_wrk(url, seconds, connections)
    time.sleep(1.0)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "child.json"
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                str(server.pid),
                "--child-seconds",
                str(seconds + DRAIN_S + 3.0),
                "--child-out",
                str(out),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            child.kill()
            raise RuntimeError("the gtui process did not start")
        idle_from = time.monotonic()
        time.sleep(3.0)  # the idle baseline of the gtui process
        with WrittenLines(log) as written:
            load_from = time.monotonic()
            loaded = run_wrk(url, seconds, connections)
            load_to = time.monotonic()
            time.sleep(DRAIN_S)
        child.wait(timeout=seconds + 60)
        seen: dict[str, Any] = json.loads(out.read_text())
    total_written = written.points[-1][1] if written.points else 0
    counts = [(float(at), int(n)) for at, n in seen["counts"]]
    # Both sides count from zero from the same quiet moment: gtui follows
    # the file from its end, after the baseline wrk's lines.
    counted = int(seen["records"])
    written_at = _moments(written.points, total_written)
    counted_at = _moments(counts, total_written)
    lags = sorted((c - w) * 1000 for w, c in zip(written_at, counted_at, strict=False))
    cpu = [(float(at), float(used), float(thread)) for at, used, thread in seen["cpu"]]
    load_cpu = _cpu_percent(cpu, load_from + 1.0, load_to)
    reader_cpu = _cpu_percent(cpu, load_from + 1.0, load_to, column=2)
    idle_cpu = _cpu_percent(cpu, idle_from, load_from)
    ingested = counted / (load_to - load_from)
    return RunResult(
        baseline_rate=baseline["rate"],
        rate=loaded["rate"],
        written=total_written,
        counted=counted,
        unparsed=int(seen["unparsed"]),
        ingested_rate=ingested,
        lag_median_ms=statistics.median(lags) if lags else float("nan"),
        lag_p99_ms=lags[int(0.99 * (len(lags) - 1))] if lags else float("nan"),
        lag_max_ms=lags[-1] if lags else float("nan"),
        cpu_load_percent=load_cpu,
        cpu_reader_percent=reader_cpu,
        cpu_idle_percent=idle_cpu,
        cpu_ms_per_1k_lines=10.0 * load_cpu / (ingested / 1000) if ingested else float("nan"),
        reader_ms_per_1k_lines=10.0 * reader_cpu / (ingested / 1000) if ingested else float("nan"),
    )


def _loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--seconds", type=float, default=15.0)
    arguments.add_argument("--runs", type=int, default=3)
    arguments.add_argument("--connections", type=int, default=16)
    arguments.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments.add_argument("--child-seconds", type=float, help=argparse.SUPPRESS)
    arguments.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    options = arguments.parse_args()
    if options.child:
        run_child(options.child, options.child_seconds, options.child_out)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not 1 <= options.seconds <= 60 or not 1 <= options.runs <= 10:
        raise SystemExit("--seconds must be 1..60 and --runs 1..10")

    print(f"cores {os.cpu_count()}, load average {_loadavg()}")
    factory = LocalGunicornFactory()
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "access.log"
        server = factory.start(
            "--workers", "4", "--access-logfile", str(log), "--access-logformat", LOG_FORMAT
        )
        try:
            print(
                f"gunicorn sync x4 on {server.base_url}/fast, wrk -t2 -c{options.connections} "
                f"{options.seconds:g}s, {options.runs} runs"
            )
            for index in range(options.runs):
                result = one_run(server, log, options.seconds, options.connections)
                results.append(result)
                print(
                    f"run {index + 1}: served {result.baseline_rate:7.0f} req/s alone, "
                    f"{result.rate:7.0f} with gtui; written {result.written}, "
                    f"counted {result.counted}, unparsed {result.unparsed}; "
                    f"ingested {result.ingested_rate:7.0f} lines/s; "
                    f"lag median {result.lag_median_ms:.0f} ms, p99 "
                    f"{result.lag_p99_ms:.0f} ms, max {result.lag_max_ms:.0f} ms; "
                    f"gtui CPU {result.cpu_load_percent:.1f}% loaded "
                    f"({result.cpu_reader_percent:.1f}% reading logs), "
                    f"{result.cpu_idle_percent:.1f}% idle"
                )
        finally:
            factory.close()

    def median(name: str) -> float:
        return float(statistics.median(getattr(result, name) for result in results))

    print(f"\nmedians over {len(results)} runs")
    print(f"  server rate alone        {median('baseline_rate'):9.0f} req/s")
    print(
        f"  server rate with gtui    {median('rate'):9.0f} req/s   "
        f"ratio {median('rate') / median('baseline_rate'):.3f}"
    )
    print(
        f"  ingested                 {median('ingested_rate'):9.0f} lines/s   "
        f"ratio to served {median('ingested_rate') / median('rate'):.3f}"
    )
    exact = all(r.counted == r.written and r.unparsed == 0 for r in results)
    print(f"  counted == written       {'yes, every run' if exact else 'NO'}")
    print(
        f"  lag written->counted     median {median('lag_median_ms'):.0f} ms, "
        f"p99 {median('lag_p99_ms'):.0f} ms, max {median('lag_max_ms'):.0f} ms"
    )
    print(
        f"  gtui CPU                 {median('cpu_load_percent'):.1f}% of a core loaded "
        f"(the log-reading thread {median('cpu_reader_percent'):.1f}%), "
        f"{median('cpu_idle_percent'):.1f}% idle"
    )
    print(
        f"  gtui CPU per 1000 lines  {median('cpu_ms_per_1k_lines'):.1f} ms (process), "
        f"{median('reader_ms_per_1k_lines'):.1f} ms (log-reading thread)"
    )
    print(f"load average {_loadavg()}")


if __name__ == "__main__":
    main()
