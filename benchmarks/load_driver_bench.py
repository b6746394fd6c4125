"""How fast and how truthful is the built-in load driver, beside hey and wrk?

Starts a real Gunicorn with the sample app on a free 127.0.0.1 port, then,
alternating the clients round by round so that background noise hits them
alike, and printing medians over the rounds:

(a) Maximum rate. gtui's driver in a closed loop on /fast beside ``wrk -t1``
    (one thread: one core) and ``hey -cpus 1``, same connections, same
    server, same run. gtui runs as it does in gtui (in a process of its own)
    on its fast stack (uvloop + httptools) and on the pure-Python fallback
    (asyncio + h11). Printed: requests per second each reached, the CPU each
    client burnt per request, and the rate that CPU cost allows on one core
    (1 / CPU per request), with ratios. For gtui two CPU figures: over the
    run (what its summary reports) and of its whole process, interpreter
    start-up and imports included (as hey's and wrk's are). On a two-core
    machine the server competes with the client for CPU, so the reached rate
    is partly the server's limit; the CPU per request is the client's own
    cost. hey runs without ``-o csv`` here (writing every request costs it
    CPU).

(b) Truth at a fixed rate. 200 req/s on /io?ms=20 from the driver (open
    loop, both stacks) and from ``hey -q`` (a fixed rate per worker). Debian
    bookworm has neither wrk2 nor vegeta, ``ab`` and ``wrk`` have no rate
    option, and hey writes every request's latency with ``-o csv``, so its
    percentiles are exact. hey does not correct coordinated omission: at a
    rate the server keeps up with, the driver's latency from the due time
    and its service time should both match hey's. Printed: p50 and p99 of
    each and the difference in percent, beside the server's own view of the
    same requests (Gunicorn's access log, ``%(D)s``, on a second server
    that logs): ``p50 - server`` is what the client adds to what the server
    took. hey's workers send in step (5 requests every 25 ms), the driver
    one request every 5 ms.

(c) Bounded memory. The driver's peak RSS after a closed-loop run, then
    after one three times as long: the peak should not grow with the number
    of requests (latencies go into histograms, not lists). Run in a thread
    of this process (``isolation="thread"``) so that its RSS is this one's.

Usage: python benchmarks/load_driver_bench.py [--rounds 3] [--seconds 5]
Needs wrk and hey (Debian packages ``wrk`` and ``hey``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._support import SAMPLE_APP_DIR, free_port  # noqa: E402
from gunicorn_tui.load.client_stack import PURE_PYTHON, ClientStack, best_stack  # noqa: E402
from gunicorn_tui.load.driver import run_load  # noqa: E402
from gunicorn_tui.load.profile import parse_profile_text  # noqa: E402
from gunicorn_tui.load.target import LoadTarget  # noqa: E402

MAX_RATE_CONNECTIONS = 32
FIXED_RATE_RPS = 200
FIXED_RATE_PATH = "/io?ms=20"
# hey's workers tick in step, so hey sends bursts of HEY_WORKERS requests:
# 5 workers x 40 req/s is 5 requests every 25 ms (each takes ~20 ms, so a
# worker is ready for its next tick). Bigger bursts queue in the server and
# raise hey's own latency (10 x 20 req/s: p99 +20 to +40% here, 20 x 10:
# p50 +10%). The driver spreads its sends evenly, one every 5 ms.
HEY_WORKERS = 5
DRIVER_FIXED_RATE_CONNECTIONS = 20


@dataclass(frozen=True)
class MaxRate:
    rps: float
    cpu_us_per_request: float
    process_cpu_us_per_request: float | None = None


@dataclass(frozen=True)
class Latencies:
    rps: float
    p50_ms: float
    p99_ms: float
    server_p50_ms: float = 0.0
    server_p99_ms: float = 0.0


def server_view(
    access_log: Path, marker: str, seconds: float, rate_rps: float = FIXED_RATE_RPS
) -> tuple[float, float]:
    """p50 and p99 of the server's own request time for one run's requests."""
    deadline = time.monotonic() + 5
    times_ms: list[float] = []
    while time.monotonic() < deadline:
        times_ms = [
            int(line.split()[-1]) / 1000
            for line in access_log.read_text().splitlines()
            if f"run={marker}" in line
        ]
        if len(times_ms) >= 0.98 * rate_rps * seconds:
            break
        time.sleep(0.2)  # gunicorn's access log is written a little later
    return nearest_rank(times_ms, 0.5), nearest_rank(times_ms, 0.99)


def start_gunicorn(port: int, access_log: Path | None = None) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(SAMPLE_APP_DIR),
        "--bind", f"127.0.0.1:{port}",
        "--workers", "4", "--worker-class", "gthread", "--threads", "8",
        "--no-control-socket", "--log-level", "warning",
    ]  # fmt: skip
    if access_log is not None:
        # The query (with the run's marker) and the request time in us.
        command += ["--access-logfile", str(access_log), "--access-logformat", "%(q)s %(D)s"]
    command.append("sample_app:app")
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


def driver_max_rate(url: str, seconds: float, stack: ClientStack) -> MaxRate:
    profile = parse_profile_text(
        f"[run]\nmode = 'closed'\nconcurrency = {MAX_RATE_CONNECTIONS}\n"
        f'duration_s = {seconds}\n[[request]]\npath = "/fast"\n'
    )
    before = children_cpu_s()
    summary = run_load(profile, LoadTarget(url), stack=stack)
    process_cpu_s = children_cpu_s() - before
    if summary.errors.total:
        raise SystemExit(f"driver errors in the max-rate run: {summary.errors}")
    return MaxRate(
        summary.throughput_rps,
        1e6 * summary.client_cpu_s / summary.completed,
        1e6 * process_cpu_s / summary.completed,
    )


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
         f"{url}/fast"],
        seconds + 30,
    )  # fmt: skip
    counts = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    if set(counts) != {"200"} or "Error distribution" in out:
        raise SystemExit(f"hey saw errors:\n{out}")
    requests = int(counts["200"])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return MaxRate(rps, 1e6 * cpu_s / requests)


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(fraction * len(ordered) + 0.999999) - 1)]


def driver_fixed_rate(
    url: str, seconds: float, stack: ClientStack, access_log: Path
) -> tuple[Latencies, Latencies]:
    marker = uuid.uuid4().hex[:10]
    profile = parse_profile_text(
        f"[run]\nrate_rps = {FIXED_RATE_RPS}\nduration_s = {seconds}\n"
        f"connections = {DRIVER_FIXED_RATE_CONNECTIONS}\n"
        f'[[request]]\npath = "{FIXED_RATE_PATH}&run={marker}"\n'
    )
    summary = run_load(profile, LoadTarget(url), stack=stack)
    if summary.errors.total or summary.missed:
        raise SystemExit(f"driver fell behind or failed at the fixed rate: {summary.warnings}")
    latency, service = summary.latency, summary.service
    assert latency.p50_ms and latency.p99_ms and service.p50_ms and service.p99_ms
    server = server_view(access_log, marker, seconds)
    return (
        Latencies(summary.throughput_rps, latency.p50_ms, latency.p99_ms, *server),
        Latencies(summary.throughput_rps, service.p50_ms, service.p99_ms, *server),
    )


def hey_fixed_rate(url: str, seconds: float, access_log: Path, workers: int) -> Latencies:
    marker = uuid.uuid4().hex[:10]
    per_worker = FIXED_RATE_RPS / workers
    out, _ = run_child(
        ["hey", "-c", str(workers), "-q", f"{per_worker:g}", "-z", f"{seconds:g}s",
         "-o", "csv", f"{url}{FIXED_RATE_PATH}&run={marker}"],
        seconds + 30,
    )  # fmt: skip
    rows = [line.split(",") for line in out.splitlines()[1:] if line]
    if any(row[6] != "200" for row in rows):
        raise SystemExit("hey saw non-200 responses at the fixed rate")
    latencies_ms = [1000 * float(row[0]) for row in rows]
    elapsed_s = max(float(row[7]) + float(row[0]) for row in rows)
    return Latencies(
        len(rows) / elapsed_s,
        nearest_rank(latencies_ms, 0.5),
        nearest_rank(latencies_ms, 0.99),
        *server_view(access_log, marker, seconds),
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
        total += run_load(profile, LoadTarget(url), isolation="thread").sent
        points.append((total, peak_rss_mb()))
    return points


def pct(ours: float, theirs: float) -> str:
    return f"{100 * (ours - theirs) / theirs:+.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument(
        "--hey-workers",
        type=int,
        default=HEY_WORKERS,
        help="hey's workers at the fixed rate (each sends rate/workers req/s, in step)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y {tool}")
    port, logged_port = free_port(), free_port()
    url, logged_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{logged_port}"
    log_dir = Path(tempfile.mkdtemp(prefix="gtui-load-bench-"))
    access_log = log_dir / "access.log"
    server = start_gunicorn(port)
    # The fixed-rate runs go to a second server that logs each request's
    # time as it saw it: the truth both clients are held against.
    logged_server = start_gunicorn(logged_port, access_log)
    print(f"gunicorn: 4 gthread workers x 8 threads at {url}; cpus: {os.cpu_count()}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")  # fmt: skip
    fast = best_stack()
    gtui, pure = f"gtui {fast.label}", f"gtui {PURE_PYTHON.label}"
    print(f"gtui's stacks: {gtui!r} (what gtui uses here) and {pure!r} (the fallback)")
    try:
        maxima: dict[str, list[MaxRate]] = {gtui: [], pure: [], "wrk -t1": [], "hey -cpus 1": []}
        fixed: dict[str, list[Latencies]] = {
            f"{gtui} latency": [],
            f"{gtui} service": [],
            f"{pure} latency": [],
            "hey": [],
        }
        for round_number in range(args.rounds):
            maxima[gtui].append(driver_max_rate(url, args.seconds, fast))
            maxima[pure].append(driver_max_rate(url, args.seconds, PURE_PYTHON))
            maxima["wrk -t1"].append(wrk_max_rate(url, args.seconds))
            maxima["hey -cpus 1"].append(hey_max_rate(url, args.seconds))
            corrected, service = driver_fixed_rate(logged_url, args.seconds, fast, access_log)
            fixed[f"{gtui} latency"].append(corrected)
            fixed[f"{gtui} service"].append(service)
            fixed[f"{pure} latency"].append(
                driver_fixed_rate(logged_url, args.seconds, PURE_PYTHON, access_log)[0]
            )
            fixed["hey"].append(
                hey_fixed_rate(logged_url, args.seconds, access_log, args.hey_workers)
            )
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        memory = driver_memory(url, args.seconds)
    finally:
        for process in (server, logged_server):
            process.terminate()
            process.wait(timeout=10)
        access_log.unlink(missing_ok=True)
        log_dir.rmdir()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")

    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(f"\n(a) maximum rate, closed loop, {MAX_RATE_CONNECTIONS} connections, GET /fast, "
          f"medians of {args.rounds} runs of {args.seconds:g} s")  # fmt: skip
    width = max(len(name) for name in maxima) + 2
    print(f"{'client':<{width}}{'req/s':>8}{'CPU us/req':>12}{'1-core req/s':>14}"
          f"{'process CPU us/req':>20}")  # fmt: skip
    summary = {}
    for name, rate_runs in maxima.items():
        rps = med([r.rps for r in rate_runs])
        cpu = med([r.cpu_us_per_request for r in rate_runs])
        cpu_runs = [r.process_cpu_us_per_request for r in rate_runs]
        process_text = "" if None in cpu_runs else f"{med([p or 0.0 for p in cpu_runs]):>20.0f}"
        summary[name] = (rps, cpu)
        print(f"{name:<{width}}{rps:>8.0f}{cpu:>12.1f}{1e6 / cpu:>14.0f}{process_text}")
    w_rps, w_cpu = summary["wrk -t1"]
    h_rps, h_cpu = summary["hey -cpus 1"]
    for name in (gtui, pure):
        d_rps, d_cpu = summary[name]
        print(
            f"{name}/hey: reached rate {d_rps / h_rps:.2f}, CPU per request {d_cpu / h_cpu:.2f}; "
            f"/wrk: reached rate {d_rps / w_rps:.2f}, CPU per request {d_cpu / w_cpu:.2f}"
        )

    print(f"\n(b) fixed rate {FIXED_RATE_RPS} req/s, GET {FIXED_RATE_PATH}, "
          f"medians of {args.rounds} runs of {args.seconds:g} s; hey: {args.hey_workers} workers "
          f"x {FIXED_RATE_RPS / args.hey_workers:g} req/s")  # fmt: skip
    width = max(len(name) for name in fixed) + 2
    print(
        f"{'client':<{width}}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server p50':>12}{'server p99':>12}{'p50 - server':>14}"
    )
    medians = {}
    for name, latency_runs in fixed.items():
        row = Latencies(
            med([r.rps for r in latency_runs]),
            med([r.p50_ms for r in latency_runs]),
            med([r.p99_ms for r in latency_runs]),
            med([r.server_p50_ms for r in latency_runs]),
            med([r.server_p99_ms for r in latency_runs]),
        )
        medians[name] = row
        print(
            f"{name:<{width}}{row.rps:>8.0f}{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}"
            f"{row.server_p50_ms:>12.2f}{row.server_p99_ms:>12.2f}"
            f"{row.p50_ms - row.server_p50_ms:>+14.2f}"
        )
    hey = medians["hey"]
    for name in (f"{gtui} latency", f"{gtui} service", f"{pure} latency"):
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
