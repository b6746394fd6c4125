"""How fast and how truthful is the built-in load driver?

Starts a real Gunicorn with the sample app on a free 127.0.0.1 port, then,
alternating the clients round by round so that background noise hits them
alike, and printing medians over the rounds:

(a) Maximum rate. The driver in a closed loop on /fast beside ``wrk -t1``
    (one thread: one core) and ``hey -cpus 1``, same connections, same
    server, same run. Printed: requests per second each reached, the CPU
    each client burnt per request, and the rate that CPU cost allows on one
    core (1 / CPU per request), with the driver/wrk ratios. On a two-core
    machine the server competes with the client for CPU, so the reached
    rate is partly the server's limit; the CPU per request is the client's
    own cost.

(b) Truth at a fixed rate. 200 req/s on /io?ms=20 from the driver (open
    loop) and from ``hey -q`` (a fixed rate per worker). Debian bookworm has
    neither wrk2 nor vegeta, ``ab`` and ``wrk`` have no rate option, and hey
    writes every request's latency with ``-o csv``, so its percentiles are
    exact. hey does not correct coordinated omission: at a rate the server
    keeps up with, the driver's latency from the due time and its service
    time should both match hey's. Printed: p50 and p99 of each and the
    difference in percent.

(c) Bounded memory. The driver's peak RSS after a closed-loop run, then
    after one three times as long: the peak should not grow with the
    number of requests (latencies go into histograms, not lists).

Usage: python benchmarks/load_driver_bench.py [--rounds 3] [--seconds 5]
Needs wrk and hey (Debian packages ``wrk`` and ``hey``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gunicorn_tui.load.driver import run_load  # noqa: E402
from gunicorn_tui.load.profile import parse_profile_text  # noqa: E402
from gunicorn_tui.load.target import LoadTarget  # noqa: E402

MAX_RATE_CONNECTIONS = 32
FIXED_RATE_RPS = 200
FIXED_RATE_PATH = "/io?ms=20"
# hey's workers tick in step, so hey sends bursts of HEY_WORKERS requests:
# 10 workers x 20 req/s is 10 requests every 50 ms, which the server's 32
# threads absorb without queueing (20 x 10 req/s queued and raised hey's
# own p50 by 10% here). The driver spreads its sends evenly, one every 5 ms.
HEY_WORKERS = 10
DRIVER_FIXED_RATE_CONNECTIONS = 20


@dataclass(frozen=True)
class MaxRate:
    rps: float
    cpu_us_per_request: float

    @property
    def one_core_rps(self) -> float:
        return 1e6 / self.cpu_us_per_request if self.cpu_us_per_request else 0.0


@dataclass(frozen=True)
class Latencies:
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(REPO / "gunicorn_tui" / "demo"),
        "--bind", f"127.0.0.1:{port}",
        "--workers", "4", "--worker-class", "gthread", "--threads", "8",
        "--no-control-socket", "--log-level", "warning",
        "sample_app:app",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(command: list[str], timeout_s: float) -> tuple[str, float]:
    """Run a client to its end; return its output and the CPU it used."""
    before = children_cpu_s()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=True)
    return result.stdout, children_cpu_s() - before


def driver_max_rate(url: str, seconds: float) -> MaxRate:
    profile = parse_profile_text(
        f"[run]\nmode = 'closed'\nconcurrency = {MAX_RATE_CONNECTIONS}\n"
        f'duration_s = {seconds}\n[[request]]\npath = "/fast"\n'
    )
    summary = run_load(profile, LoadTarget(url))
    if summary.errors.total:
        raise SystemExit(f"driver errors in the max-rate run: {summary.errors}")
    return MaxRate(summary.throughput_rps, 1e6 * summary.client_cpu_s / summary.completed)


def wrk_max_rate(url: str, seconds: float) -> MaxRate:
    out, cpu_s = run_child(
        ["wrk", "-t1", f"-c{MAX_RATE_CONNECTIONS}", f"-d{seconds:g}s", f"{url}/fast"], seconds + 30
    )
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return MaxRate(rps, 1e6 * cpu_s / requests)


def hey_max_rate(url: str, seconds: float) -> MaxRate:
    out, cpu_s = run_child(
        ["hey", "-cpus", "1", "-c", str(MAX_RATE_CONNECTIONS), "-z", f"{seconds:g}s",
         "-o", "csv", f"{url}/fast"],
        seconds + 30,
    )  # fmt: skip
    rows = [line.split(",") for line in out.splitlines()[1:] if line]
    ok = [row for row in rows if row[6] == "200"]
    if len(ok) != len(rows):
        raise SystemExit(f"hey saw {len(rows) - len(ok)} non-200 responses")
    elapsed_s = max(float(row[7]) + float(row[0]) for row in rows)
    return MaxRate(len(rows) / elapsed_s, 1e6 * cpu_s / len(rows))


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(fraction * len(ordered) + 0.999999) - 1)]


def driver_fixed_rate(url: str, seconds: float) -> tuple[Latencies, Latencies]:
    profile = parse_profile_text(
        f"[run]\nrate_rps = {FIXED_RATE_RPS}\nduration_s = {seconds}\n"
        f"connections = {DRIVER_FIXED_RATE_CONNECTIONS}\n"
        f'[[request]]\npath = "{FIXED_RATE_PATH}"\n'
    )
    summary = run_load(profile, LoadTarget(url))
    if summary.errors.total or summary.missed:
        raise SystemExit(f"driver fell behind or failed at the fixed rate: {summary.warnings}")
    latency, service = summary.latency, summary.service
    assert latency.p50_ms and latency.p99_ms and service.p50_ms and service.p99_ms
    return (
        Latencies(summary.throughput_rps, latency.p50_ms, latency.p99_ms),
        Latencies(summary.throughput_rps, service.p50_ms, service.p99_ms),
    )


def hey_fixed_rate(url: str, seconds: float) -> Latencies:
    per_worker = FIXED_RATE_RPS / HEY_WORKERS
    out, _ = run_child(
        ["hey", "-c", str(HEY_WORKERS), "-q", f"{per_worker:g}", "-z", f"{seconds:g}s",
         "-o", "csv", f"{url}{FIXED_RATE_PATH}"],
        seconds + 30,
    )  # fmt: skip
    rows = [line.split(",") for line in out.splitlines()[1:] if line]
    if any(row[6] != "200" for row in rows):
        raise SystemExit("hey saw non-200 responses at the fixed rate")
    latencies_ms = [1000 * float(row[0]) for row in rows]
    elapsed_s = max(float(row[7]) + float(row[0]) for row in rows)
    return Latencies(
        len(rows) / elapsed_s, nearest_rank(latencies_ms, 0.5), nearest_rank(latencies_ms, 0.99)
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def driver_memory(url: str, seconds: float) -> list[tuple[int, float]]:
    """(requests sent so far, peak RSS in MB) after a run and a 3x longer one."""
    points = []
    total = 0
    for length in (seconds, 3 * seconds):
        profile = parse_profile_text(
            f"[run]\nmode = 'closed'\nconcurrency = {MAX_RATE_CONNECTIONS}\n"
            f'duration_s = {length}\n[[request]]\npath = "/items/{{n}}"\nn_range = [1, 100000]\n'
        )
        total += run_load(profile, LoadTarget(url)).sent
        points.append((total, peak_rss_mb()))
    return points


def pct(ours: float, theirs: float) -> str:
    return f"{100 * (ours - theirs) / theirs:+.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y {tool}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_gunicorn(port)
    print(f"gunicorn: 4 gthread workers x 8 threads at {url}; cpus: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")  # fmt: skip
    try:
        maxima: dict[str, list[MaxRate]] = {"driver": [], "wrk -t1": [], "hey -cpus 1": []}
        fixed: dict[str, list[Latencies]] = {"driver latency": [], "driver service": [], "hey": []}
        for round_number in range(args.rounds):
            maxima["driver"].append(driver_max_rate(url, args.seconds))
            maxima["wrk -t1"].append(wrk_max_rate(url, args.seconds))
            maxima["hey -cpus 1"].append(hey_max_rate(url, args.seconds))
            corrected, service = driver_fixed_rate(url, args.seconds)
            fixed["driver latency"].append(corrected)
            fixed["driver service"].append(service)
            fixed["hey"].append(hey_fixed_rate(url, args.seconds))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        memory = driver_memory(url, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")

    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(f"\n(a) maximum rate, closed loop, {MAX_RATE_CONNECTIONS} connections, GET /fast, "
          f"medians of {args.rounds} runs of {args.seconds:g} s")  # fmt: skip
    print(f"{'client':<14}{'req/s':>10}{'CPU us/req':>12}{'1-core req/s':>14}")
    summary = {}
    for name, rate_runs in maxima.items():
        rps = med([r.rps for r in rate_runs])
        cpu = med([r.cpu_us_per_request for r in rate_runs])
        summary[name] = (rps, cpu)
        print(f"{name:<14}{rps:>10.0f}{cpu:>12.0f}{1e6 / cpu:>14.0f}")
    d_rps, d_cpu = summary["driver"]
    w_rps, w_cpu = summary["wrk -t1"]
    h_rps, h_cpu = summary["hey -cpus 1"]
    print(f"driver/wrk: reached rate {d_rps / w_rps:.2f}, one-core rate {w_cpu / d_cpu:.3f}")
    print(f"driver/hey: reached rate {d_rps / h_rps:.2f}, one-core rate {h_cpu / d_cpu:.3f}")

    print(f"\n(b) fixed rate {FIXED_RATE_RPS} req/s, GET {FIXED_RATE_PATH}, "
          f"medians of {args.rounds} runs of {args.seconds:g} s")  # fmt: skip
    print(f"{'client':<16}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    medians = {}
    for name, latency_runs in fixed.items():
        row = Latencies(med([r.rps for r in latency_runs]), med([r.p50_ms for r in latency_runs]),
                        med([r.p99_ms for r in latency_runs]))  # fmt: skip
        medians[name] = row
        print(f"{name:<16}{row.rps:>8.0f}{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}")
    hey = medians["hey"]
    for name in ("driver latency", "driver service"):
        row = medians[name]
        print(
            f"{name} vs hey: p50 {pct(row.p50_ms, hey.p50_ms)}, p99 {pct(row.p99_ms, hey.p99_ms)}"
        )

    print("\n(c) driver peak RSS, closed loop on /items/{n} (100k distinct paths)")
    for sent, rss_mb in memory:
        print(f"after {sent:>7} requests in all: peak RSS {rss_mb:.1f} MB")
    growth = memory[1][1] - memory[0][1]
    print(f"growth over the last {memory[1][0] - memory[0][0]} requests: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
